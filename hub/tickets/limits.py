"""Time limits per category: a reminder before each limit, and overdue marking at it.

Two limits: response (someone accepts the ticket) and resolution. Each is a
pair of stored timers; when one fires it looks at the ticket as it is now, so
an accepted or resolved ticket gets nothing, and an extension that moved the
resolve-by time moves the timer instead of firing it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import Severity
from hub.i18n.catalogs import N_
from hub.i18n.said import duration, every_language, keep
from hub.notifications.base import Notification, Recipients
from hub.policy.document import Category
from hub.schema.grid import grids
from hub.schema.tickets import tickets
from hub.tickets.models import TicketStatus
from hub.tickets.service import log_change
from hub.timers import service as timers
from hub.users.models import Role

TIMER_KIND = "time_limit"
_S = TicketStatus
# The states in which each limit is still running.
_RUNNING = {
    "response": frozenset({_S.REGISTERED, _S.DISPATCHED, _S.RETURNED}),
    "resolve": frozenset(
        {
            _S.REGISTERED,
            _S.DISPATCHED,
            _S.RETURNED,
            _S.ACCEPTED,
            _S.IN_PROGRESS,
            _S.EXTENSION_REQUESTED,
        }
    ),
}
# What the assignee reads (the notification's body), per limit.
_DUE_SOON = {
    "response": N_("to be accepted within %(span)s"),
    "resolve": N_("to be resolved within %(span)s"),
}
_PASSED = {
    "response": N_("the time to accept it has passed"),
    "resolve": N_("the time to resolve it has passed"),
}
# What the ticket's log says when a limit passes, with the time it was due.
_LIMIT_PASSED = {
    "response": N_("the time to accept it (%(at)s) has passed"),
    "resolve": N_("the time to resolve it (%(at)s) has passed"),
}
_DUE_COLUMN = {"response": tickets.c.response_due_at, "resolve": tickets.c.resolve_due_at}
_OVERDUE_COLUMN = {"response": "response_overdue_at", "resolve": "resolve_overdue_at"}


def _key(ticket_id: int, limit: str, phase: str) -> str:
    return f"limit:{ticket_id}:{limit}:{phase}"


async def arm(
    conn: AsyncConnection,
    ticket_id: int,
    category: Category,
    response_due: datetime,
    resolve_due: datetime,
    now: datetime,
) -> None:
    for limit, due in (("response", response_due), ("resolve", resolve_due)):
        payload = {"ticket_id": ticket_id, "limit": limit}
        if category.remind_before_minutes:
            remind_at = due - timedelta(minutes=category.remind_before_minutes)
            await timers.schedule(
                conn,
                _key(ticket_id, limit, "remind"),
                TIMER_KIND,
                remind_at,
                {**payload, "phase": "remind", "before_min": category.remind_before_minutes},
                now,
            )
        await timers.schedule(
            conn,
            _key(ticket_id, limit, "overdue"),
            TIMER_KIND,
            due,
            {**payload, "phase": "overdue"},
            now,
        )


async def on_timer(
    conn: AsyncConnection, payload: dict[str, Any], now: datetime
) -> tuple[str, list[Notification]]:
    ticket_id, limit, phase = (
        int(payload["ticket_id"]),
        str(payload["limit"]),
        str(payload["phase"]),
    )
    # A ticket raised in a grid may have no community of its own: the grid's is its.
    community = sa.func.coalesce(tickets.c.community_id, grids.c.community_id)
    row = (
        await conn.execute(
            sa.select(tickets, community.label("supervising_community"))
            .select_from(tickets.outerjoin(grids, grids.c.id == tickets.c.grid_id))
            .where(tickets.c.id == ticket_id)
        )
    ).first()
    if row is None:
        return "ticket gone", []
    status = TicketStatus(row.status)
    if status not in _RUNNING[limit]:
        return f"nothing to do: ticket {status.value}", []
    due: datetime | None = getattr(row, _DUE_COLUMN[limit].name)
    if due is None:
        return "no limit set", []
    if phase == "remind":
        before = timedelta(minutes=int(payload.get("before_min", 0)))
        if due - before > now:  # an extension moved the limit: remind later
            await timers.reschedule(
                conn, _key(ticket_id, limit, "remind"), TIMER_KIND, due - before, payload, now
            )
            return f"limit moved to {due.isoformat()}", []
        minutes = max(0, round((due - now).total_seconds() / 60))
        await log_change(
            conn,
            ticket_id,
            now,
            f"{limit}_reminder",
            note=f"{minutes} min left",
            said=[keep(_DUE_SOON[limit], span=duration(minutes * 60))],
        )
        return "reminded", [
            _note(
                row,
                f"ticket.{limit}_due_soon",
                every_language(_DUE_SOON[limit], span=duration(max(0, minutes) * 60)),
                _who(row, staff=False),
            )
        ]
    if due > now:
        await timers.reschedule(
            conn, _key(ticket_id, limit, "overdue"), TIMER_KIND, due, payload, now
        )
        return f"limit moved to {due.isoformat()}", []
    await conn.execute(
        tickets.update().where(tickets.c.id == ticket_id).values({_OVERDUE_COLUMN[limit]: now})
    )
    await log_change(
        conn,
        ticket_id,
        now,
        f"{limit}_overdue",
        note=f"{limit} limit {due.isoformat()} passed",
        said=[keep(_LIMIT_PASSED[limit], at=due)],
    )
    return "marked overdue", [
        _note(
            row,
            f"ticket.{limit}_overdue",
            every_language(_PASSED[limit]),
            _who(row, staff=True),
        )
    ]


def _who(row: Any, *, staff: bool) -> Recipients:
    """The assignee; at overdue (督办) also the community's staff. Nobody assigned: staff.
    A ticket of no community at all goes to the admins, never to every community's staff."""
    users = (row.assignee_id,) if row.assignee_id is not None else ()
    if not (staff or row.assignee_id is None):
        return Recipients(user_ids=users)
    community_id = row.supervising_community
    roles = (Role.COMMUNITY_STAFF,) if community_id is not None else (Role.ADMIN,)
    return Recipients(user_ids=users, roles=roles, community_id=community_id)


def _note(row: Any, kind: str, bodies: dict[str, str], recipients: Recipients) -> Notification:
    return Notification(
        kind=kind,
        title=row.title,
        titles=dict(row.titles or {}),
        bodies=bodies,
        ticket_id=int(row.id),
        alert_id=row.alert_id,
        recipients=recipients,
        severity=Severity.HIGH if row.priority == "urgent" else Severity.MEDIUM,
        silent=bool(row.confidential),
    )
