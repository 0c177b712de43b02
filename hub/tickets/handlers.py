"""Joint handling (联动处置): co-handlers who work a ticket with its assignee, and
raising a grid ticket to the community (小事不出网格，大事不出社区).

Co-handlers see the ticket (hub.access.visibility.visible_tickets) and earn co-handler
points when it is closed, but take none of the assignee's workflow actions.
Every change here is written to the ticket's audit trail in the same
transaction, and answers the notification to send once that has committed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import Severity
from hub.access.scope import Scope
from hub.i18n.catalogs import N_
from hub.i18n.said import Words, every_language, keep, words
from hub.notifications.base import Notification, Recipients
from hub.schema.tickets import ticket_handlers, tickets
from hub.tickets.models import FINISHED, TicketLevel, TicketPublic
from hub.tickets.service import (
    InvalidTicketInput,
    TicketConflict,
    TicketForbidden,
    TicketNotVisible,
    load_visible,
    log_change,
    reload_for,
)
from hub.tickets.words import status_label
from hub.users.models import Role, UserPublic
from hub.users.service import get_user
from hub.users.words import role_words

# Who may be asked to handle a ticket jointly.
CO_HANDLER_ROLES = frozenset({Role.VOLUNTEER, Role.COMMUNITY_STAFF, Role.PROPERTY_MANAGER})
_SUPERVISORS = frozenset({Role.ADMIN, Role.COMMUNITY_STAFF, Role.PROPERTY_MANAGER})


def _severity(ticket: TicketPublic) -> Severity:
    return Severity.HIGH if ticket.priority == "urgent" else Severity.MEDIUM


# What a refusal says the caller tried, in words.
_ADD = words(N_("add co-handlers"))
_REMOVE = words(N_("remove co-handlers"))
_JOINING = words(N_("co-handlers can join"))
_LEAVING = words(N_("co-handlers can leave"))
_RAISING = words(N_("raising"))


def _check_manages(ticket: TicketPublic, actor: UserPublic, what: Words) -> None:
    """Staff, property managers and admins of the ticket's community, or its assignee."""
    if actor.role in _SUPERVISORS:
        return  # seeing the ticket already limits them to their community
    if ticket.assignee_id is not None and ticket.assignee_id == actor.id:
        return
    raise TicketForbidden(
        N_(
            "role %(role)s may %(what)s only on tickets assigned to them; ticket %(id)s is "
            "not assigned to %(user)s"
        ),
        role=role_words(actor.role),
        what=what,
        id=ticket.id,
        user=actor.username,
    )


def _check_open(ticket: TicketPublic, what: Words) -> None:
    if ticket.status in FINISHED:
        status = ticket.status
        raise TicketConflict(
            N_("ticket %(id)s is %(status)s: no %(what)s any more"),
            id=ticket.id,
            status=lambda tag: status_label(status, tag),
            what=what,
        )


async def add_co_handler(
    conn: AsyncConnection,
    ticket_id: int,
    user_id: int,
    note: str,
    actor: UserPublic,
    scope: Scope,
    now: datetime,
) -> tuple[TicketPublic, Notification]:
    """Ask someone to handle a ticket with its assignee; the notification tells them."""
    ticket = await load_visible(conn, scope, ticket_id)
    _check_manages(ticket, actor, _ADD)
    _check_open(ticket, _JOINING)
    helper = await get_user(conn, user_id)
    if helper is None or helper.role not in CO_HANDLER_ROLES:
        raise InvalidTicketInput(
            "user_id",
            N_(
                "user %(id)s is not an active volunteer, community staff member or property manager"
            ),
            id=user_id,
        )
    if ticket.community_id is None:
        raise TicketConflict(N_("ticket %(id)s is not placed in a community"), id=ticket_id)
    if helper.community_id != ticket.community_id:
        raise InvalidTicketInput(
            "user_id",
            N_("%(user)s is not in community %(community)s"),
            user=helper.username,
            community=ticket.community_id,
        )
    if helper.id == ticket.assignee_id:
        raise InvalidTicketInput(
            "user_id", N_("%(user)s is the ticket's assignee"), user=helper.username
        )
    if any(h.user_id == helper.id for h in ticket.co_handlers or []):
        raise TicketConflict(
            N_("%(user)s already co-handles ticket %(id)s"), user=helper.username, id=ticket_id
        )
    await conn.execute(
        ticket_handlers.insert().values(
            ticket_id=ticket_id, user_id=helper.id, added_by=actor.id, added_at=now, note=note
        )
    )
    await conn.execute(tickets.update().where(tickets.c.id == ticket_id).values(updated_at=now))
    await log_change(
        conn,
        ticket_id,
        now,
        "co_handler_added",
        actor_id=actor.id,
        note=f"user {helper.id} ({helper.full_name}) handles it jointly"
        + (f": {note}" if note else ""),
        said=[
            keep(
                N_("%(who)s (user %(id)s) handles it jointly: %(note)s")
                if note
                else N_("%(who)s (user %(id)s) handles it jointly"),
                who=helper.full_name,
                id=helper.id,
                note=note or "",
            )
        ],
    )
    notification = Notification(
        kind="ticket.co_handler_added",
        title=ticket.title,
        titles=ticket.titles or {},
        bodies=every_language(
            N_("%(who)s asked you to help with ticket %(ticket)s: %(note)s")
            if note
            else N_("%(who)s asked you to help with ticket %(ticket)s"),
            who=actor.full_name,
            ticket=ticket_id,
            note=note or "",
        ),
        ticket_id=ticket_id,
        alert_id=ticket.alert_id,
        recipients=Recipients(user_ids=(helper.id,)),
        severity=_severity(ticket),
        silent=ticket.confidential,
    )
    return await reload_for(conn, scope, ticket_id), notification


async def remove_co_handler(
    conn: AsyncConnection,
    ticket_id: int,
    user_id: int,
    actor: UserPublic,
    scope: Scope,
    now: datetime,
) -> TicketPublic:
    ticket = await load_visible(conn, scope, ticket_id)
    _check_manages(ticket, actor, _REMOVE)
    _check_open(ticket, _LEAVING)
    current = next((h for h in ticket.co_handlers or [] if h.user_id == user_id), None)
    if current is None:
        raise TicketNotVisible(
            N_("user %(user)s is not a co-handler of ticket %(id)s"), user=user_id, id=ticket_id
        )
    await conn.execute(
        ticket_handlers.delete().where(
            ticket_handlers.c.ticket_id == ticket_id, ticket_handlers.c.user_id == user_id
        )
    )
    await conn.execute(tickets.update().where(tickets.c.id == ticket_id).values(updated_at=now))
    await log_change(
        conn,
        ticket_id,
        now,
        "co_handler_removed",
        actor_id=actor.id,
        note=f"user {user_id} ({current.full_name}) no longer handles it",
        said=[
            keep(
                N_("%(who)s (user %(id)s) no longer handles it"),
                who=current.full_name,
                id=user_id,
            )
        ],
    )
    return await reload_for(conn, scope, ticket_id)


async def raise_to_community(
    conn: AsyncConnection,
    ticket_id: int,
    reason: str,
    actor: UserPublic,
    scope: Scope,
    now: datetime,
) -> tuple[TicketPublic, Notification]:
    """A grid ticket the grid cannot handle alone becomes the community's; staff are told."""
    ticket = await load_visible(conn, scope, ticket_id)
    if actor.role not in _SUPERVISORS and not (
        actor.role is Role.VOLUNTEER and ticket.assignee_id == actor.id
    ):
        raise TicketForbidden(
            N_(
                "role %(role)s may not raise tickets; the assigned volunteer, community "
                "staff and property managers may"
            ),
            role=role_words(actor.role),
        )
    if ticket.level is TicketLevel.COMMUNITY:
        raise TicketConflict(N_("ticket %(id)s is already at community level"), id=ticket_id)
    if ticket.community_id is None:
        raise TicketConflict(N_("ticket %(id)s is not placed in a community"), id=ticket_id)
    _check_open(ticket, _RAISING)
    result = await conn.execute(
        tickets.update()
        .where(
            tickets.c.id == ticket_id,
            tickets.c.level == TicketLevel.GRID.value,
            tickets.c.status.notin_([s.value for s in FINISHED]),
        )
        .values(level=TicketLevel.COMMUNITY.value, updated_at=now)
    )
    if result.rowcount != 1:
        raise TicketConflict(
            N_("ticket %(id)s changed meanwhile; reload it and try again"), id=ticket_id
        )
    await log_change(
        conn,
        ticket_id,
        now,
        "raised_to_community",
        actor_id=actor.id,
        note=f"reason: {reason}",
        said=[keep(N_("reason: %(text)s"), text=reason)],
    )
    notification = Notification(
        kind="ticket.raised",
        title=ticket.title,
        titles=ticket.titles or {},
        bodies=every_language(
            N_("raised to the community by %(who)s: %(reason)s"),
            who=actor.full_name,
            reason=reason,
        ),
        ticket_id=ticket_id,
        alert_id=ticket.alert_id,
        recipients=Recipients(roles=(Role.COMMUNITY_STAFF,), community_id=ticket.community_id),
        severity=_severity(ticket),
        silent=ticket.confidential,
    )
    return await reload_for(conn, scope, ticket_id), notification
