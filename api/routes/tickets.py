"""Service tickets, as far as the caller may see (a volunteer: only their own),
and the community workflow's actions on them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import Conn, Context, Limit, Offset
from api.pagination import Page
from api.security import CurrentUser, UserScope
from hub.tickets import service, workflow
from hub.tickets.models import TicketPublic, TicketStatus, TicketTransitionRequest
from hub.tickets.service import get_ticket, list_tickets

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])


@router.get("")
async def tickets(
    scope: UserScope,
    conn: Conn,
    status_: Annotated[TicketStatus | None, Query(alias="status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[TicketPublic]:
    items, total = await list_tickets(conn, scope, status=status_, limit=limit, offset=offset)
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/{ticket_id}")
async def ticket(scope: UserScope, conn: Conn, ticket_id: int) -> TicketPublic:
    """A ticket with its audit trail and `actions`: what the caller may do to it now."""
    found = await get_ticket(conn, scope, ticket_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no ticket {ticket_id} visible to you")
    return found


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
) -> TicketPublic:
    """Take one step of the community workflow (dispatch, accept, return, start, ...).

    Which fields an action needs: `reason` to return, reopen, request or refuse an
    extension; `note` to start (the on-site verification) and resolve; `assignee_id`
    to dispatch; `new_due_at` to grant an extension; `score` (1-5) to rate.
    """
    try:
        async with ctx.db.write() as conn:
            return await service.transition(
                conn, ticket_id, request.action, user, scope, request, datetime.now(UTC)
            )
    except service.TicketNotVisible as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except service.TransitionForbidden as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    except (workflow.IllegalTransition, service.TransitionConflict) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except service.InvalidTransitionInput as exc:
        raise HTTPException(
            422,  # the name changed across Starlette versions; the code did not
            [{"type": "value_error", "loc": ["body", exc.field], "msg": exc.message}],
        ) from None
