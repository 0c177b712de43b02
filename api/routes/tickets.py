"""Service tickets, as far as the caller may see (a volunteer: their own and those they
co-handle), intake by staff and residents, the community workflow's actions, joint
handling (co-handlers) and raising a grid ticket to the community."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import Conn, Context, Limit, Offset
from api.errors import MAX_ID
from api.pagination import Page
from api.reader import CurrentReader, Reader
from api.security import CurrentUser, UserScope
from api.state import ApiContext
from hub.alerts import false_alarms
from hub.i18n.catalogs import N_
from hub.notifications import outbox
from hub.residents.card import ResidentCard, resident_card
from hub.tickets import handlers, intake, service
from hub.tickets.models import (
    CoHandlerAdd,
    RaiseRequest,
    TicketAction,
    TicketCreate,
    TicketLevel,
    TicketPublic,
    TicketStatus,
    TicketTransitionRequest,
)
from hub.tickets.reading import for_reader
from hub.tickets.service import get_ticket, list_tickets
from hub.tickets.words import labelled

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "the caller's role or relation to the ticket forbids this"},
    404: {"description": "no such ticket (or co-handler) visible to the caller"},
    409: {"description": "not allowed in the ticket's state, or changed concurrently"},
    422: {"description": "an input is missing or invalid; the detail names it"},
}


def _not_visible(reader: Reader, ticket_id: int) -> HTTPException:
    return HTTPException(
        status.HTTP_404_NOT_FOUND, reader.text(N_("no ticket %(id)s visible to you"), id=ticket_id)
    )


def _committed(ctx: ApiContext) -> None:
    """The route's notifications are in the outbox and committed: deliver them now."""
    if ctx.outbox is not None:
        ctx.outbox.poke()


@router.get("")
async def tickets(
    scope: UserScope,
    conn: Conn,
    reader: CurrentReader,
    status_: Annotated[TicketStatus | None, Query(alias="status")] = None,
    level: Annotated[
        TicketLevel | None, Query(description="grid: handled in the grid; community: raised")
    ] = None,
    overdue: Annotated[
        bool | None,
        Query(description="true: a running time limit (response or resolution) has passed"),
    ] = None,
    grid_id: Annotated[int | None, Query(gt=0, le=MAX_ID)] = None,
    building_id: Annotated[
        int | None,
        Query(gt=0, le=MAX_ID, description="its household's building, or its alarm device's"),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[TicketPublic]:
    """The tickets the caller may see, newest first, narrowed by the filters given.

    `title` and `category_label` are in the reader's language; `titles` has the title
    in every language (for tickets made from an alarm's rule or a category)."""
    filters = service.TicketFilters(overdue=overdue, grid_id=grid_id, building_id=building_id)
    items, total = await list_tickets(
        conn, scope, status=status_, level=level, limit=limit, offset=offset, filters=filters
    )
    await for_reader(conn, items, reader.language)
    items = [labelled(t, reader.language, reader.zone) for t in items]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.post("", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
async def open_ticket(
    request: TicketCreate,
    user: CurrentUser,
    scope: UserScope,
    ctx: Context,
    reader: CurrentReader,
) -> TicketPublic:
    """Take in a ticket (一号受理).

    Staff, property managers and admins: `title`, `description`, `category` (one of the
    community's), `grid_id` (a grid of their community) and optionally `household_id` (a
    household in that grid); the source is `staff`. Residents: `title`, `description` and
    optionally `category` (a resident-facing one; default `resident_report`); the grid and
    household are their own, and the source is `resident`. The ticket is routed as its
    category says: to the volunteer on duty, or registered for staff to dispatch.
    """
    async with ctx.db.write() as conn:
        opened = await intake.open_by_user(conn, request, user, scope, datetime.now(UTC))
        answer = await service.reload_for(conn, scope, opened.ticket_id)
        await for_reader(conn, [answer], reader.language)
        await outbox.enqueue(conn, opened.notifications)
    _committed(ctx)
    return labelled(answer, reader.language, reader.zone)


@router.get("/{ticket_id}")
async def ticket(
    scope: UserScope, conn: Conn, reader: CurrentReader, ticket_id: int
) -> TicketPublic:
    """A ticket with its audit trail, its `co_handlers` and `actions`: what the caller
    may do to it now. `title` and `category_label` are in the reader's language."""
    found = await get_ticket(conn, scope, ticket_id)
    if found is None:
        raise _not_visible(reader, ticket_id)
    await for_reader(conn, [found], reader.language)
    return labelled(found, reader.language, reader.zone)


@router.get("/{ticket_id}/resident", responses={404: _ERRORS[404]})
async def ticket_resident(
    scope: UserScope, conn: Conn, reader: CurrentReader, ticket_id: int
) -> ResidentCard:
    """The resident a ticket concerns, for whoever may see the ticket: name, phone, address
    and family contacts. No health history (the alarm is on the ticket)."""
    found = await get_ticket(conn, scope, ticket_id)
    if found is None:
        raise _not_visible(reader, ticket_id)
    card = await resident_card(conn, found.resident_id) if found.resident_id else None
    if card is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            reader.text(N_("ticket %(id)s names no resident"), id=ticket_id),
        )
    return card


@router.post(
    "/{ticket_id}/transitions",
    responses={
        403: {"description": "the caller's role or relation to the ticket forbids the action"},
        404: {"description": "no such ticket visible to the caller"},
        409: {"description": "not allowed from the ticket's state, or changed concurrently"},
        422: {"description": "an input the action needs is missing or invalid"},
    },
)
async def transition_ticket(
    ticket_id: int,
    request: TicketTransitionRequest,
    user: CurrentUser,
    scope: UserScope,
    ctx: Context,
    reader: CurrentReader,
) -> TicketPublic:
    """Take one step of the community workflow (dispatch, accept, return, start, ...).

    Which fields an action needs: `reason` to return, reopen, request or refuse an
    extension; `note` to start (the on-site verification) and resolve; `disposition`
    to resolve a ticket opened from an alarm (what it was: genuine, false_alarm,
    accidental, test, device_fault); `assignee_id` to dispatch; `new_due_at` to grant
    an extension; `score` (1-5) to rate.
    """
    now = datetime.now(UTC)
    async with ctx.db.write() as conn:
        answer = await service.transition(
            conn, ticket_id, request.action, user, scope, request, now
        )
        # A false alarm may be one too many for its device: staff hear of it.
        flagged = []
        if request.action is TicketAction.RESOLVE:
            flagged = await false_alarms.flag_repeated(conn, answer, now)
            await outbox.enqueue(conn, flagged)
        await for_reader(conn, [answer], reader.language)
    if flagged:
        _committed(ctx)
    return labelled(answer, reader.language, reader.zone)


@router.post("/{ticket_id}/co-handlers", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
async def add_co_handler(
    ticket_id: int,
    request: CoHandlerAdd,
    user: CurrentUser,
    scope: UserScope,
    ctx: Context,
    reader: CurrentReader,
) -> TicketPublic:
    """Ask someone to handle the ticket jointly with its assignee (联动处置).

    For staff, property managers and admins of the ticket's community, and for the
    ticket's assignee. The co-handler must be an active volunteer, staff member or
    property manager of the same community, not the assignee and not already added;
    the ticket must not be closed or rated. They are notified, can see the ticket and
    earn co-handler points when it closes, but take none of the assignee's actions.
    """
    async with ctx.db.write() as conn:
        answer, notification = await handlers.add_co_handler(
            conn, ticket_id, request.user_id, request.note, user, scope, datetime.now(UTC)
        )
        await for_reader(conn, [answer], reader.language)
        await outbox.enqueue(conn, [notification])
    _committed(ctx)
    return labelled(answer, reader.language, reader.zone)


@router.delete("/{ticket_id}/co-handlers/{user_id}", responses=_ERRORS)
async def remove_co_handler(
    ticket_id: int,
    user_id: int,
    user: CurrentUser,
    scope: UserScope,
    ctx: Context,
    reader: CurrentReader,
) -> TicketPublic:
    """Take a co-handler off the ticket (same callers and states as adding one)."""
    async with ctx.db.write() as conn:
        answer = await handlers.remove_co_handler(
            conn, ticket_id, user_id, user, scope, datetime.now(UTC)
        )
        await for_reader(conn, [answer], reader.language)
    return labelled(answer, reader.language, reader.zone)


@router.post("/{ticket_id}/raise", responses=_ERRORS)
async def raise_ticket(
    ticket_id: int,
    request: RaiseRequest,
    user: CurrentUser,
    scope: UserScope,
    ctx: Context,
    reader: CurrentReader,
) -> TicketPublic:
    """Raise a grid-level ticket to the community (小事不出网格，大事不出社区).

    For the assigned volunteer and the community's staff and property managers, while
    the ticket is not closed; `reason` is required. Community staff are notified.
    """
    async with ctx.db.write() as conn:
        answer, notification = await handlers.raise_to_community(
            conn, ticket_id, request.reason, user, scope, datetime.now(UTC)
        )
        await for_reader(conn, [answer], reader.language)
        await outbox.enqueue(conn, [notification])
    _committed(ctx)
    return labelled(answer, reader.language, reader.zone)
