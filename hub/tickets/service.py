"""Tickets: opened from alerts and routed to whoever is on duty in the grid."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from device_adapters.model import Severity
from hub.alerts.rules import AlertRule
from hub.devices.models import DeviceContext
from hub.duty.service import on_duty
from hub.tickets.models import TicketLogEntry, TicketPublic, TicketSource, TicketStatus
from hub.tickets.tables import ticket_log, tickets
from hub.users.models import Role
from hub.users.scope import Scope, nothing


async def log_change(
    conn: AsyncConnection,
    ticket_id: int,
    at: datetime,
    action: str,
    *,
    actor_id: int | None = None,
    from_status: TicketStatus | None = None,
    to_status: TicketStatus | None = None,
    note: str = "",
) -> None:
    await conn.execute(
        ticket_log.insert().values(
            ticket_id=ticket_id,
            at=at,
            actor_id=actor_id,
            action=action,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value if to_status else None,
            note=note[:1000],
        )
    )


async def open_for_alert(
    conn: AsyncConnection,
    *,
    alert_id: int,
    rule: AlertRule,
    title: str,
    severity: Severity,
    ctx: DeviceContext,
    now: datetime,
) -> tuple[int, int | None]:
    """Open a ticket for a new alert; returns (ticket id, assignee id or None)."""
    assignee: int | None = None
    if ctx.grid_id is not None:
        candidates = await on_duty(conn, ctx.grid_id, now, "primary") or await on_duty(
            conn, ctx.grid_id, now, "backup"
        )
        assignee = candidates[0] if candidates else None
    status = TicketStatus.DISPATCHED if assignee is not None else TicketStatus.REGISTERED
    result = await conn.execute(
        tickets.insert().values(
            title=title[:200],
            category=rule.ticket_category,
            status=status.value,
            priority="urgent" if severity is Severity.CRITICAL else "normal",
            source=TicketSource.DEVICE_ALERT.value,
            alert_id=alert_id,
            community_id=ctx.community_id,
            grid_id=ctx.grid_id,
            household_id=ctx.household_id,
            resident_id=ctx.resident_id,
            assignee_id=assignee,
            created_at=now,
            updated_at=now,
            response_due_at=now + timedelta(minutes=rule.response_minutes),
            resolve_due_at=now + timedelta(minutes=rule.resolve_minutes),
        )
    )
    assert result.inserted_primary_key is not None
    ticket_id = int(result.inserted_primary_key[0])
    await log_change(
        conn,
        ticket_id,
        now,
        "registered",
        to_status=TicketStatus.REGISTERED,
        note=f"opened from alert {alert_id}",
    )
    if assignee is not None:
        await log_change(
            conn,
            ticket_id,
            now,
            "dispatched",
            from_status=TicketStatus.REGISTERED,
            to_status=TicketStatus.DISPATCHED,
            note=f"assigned to user {assignee}, on duty in grid {ctx.grid_id}",
        )
    else:
        reason = "device is not placed in the grid" if ctx.grid_id is None else "nobody on duty"
        await log_change(conn, ticket_id, now, "dispatch_pending", note=reason)
    return ticket_id, assignee


def _visible(scope: Scope) -> ColumnElement[bool] | None:
    if scope.sees_everything:
        return None
    if scope.is_community_wide:
        return tickets.c.community_id == scope.community_id
    if scope.role is Role.VOLUNTEER:
        return tickets.c.assignee_id == scope.user_id
    if scope.household_id is not None:
        return tickets.c.household_id == scope.household_id
    return nothing()


async def list_tickets(
    conn: AsyncConnection,
    scope: Scope,
    *,
    status: TicketStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[TicketPublic], int]:
    conditions = [c for c in (_visible(scope),) if c is not None]
    if status is not None:
        conditions.append(tickets.c.status == status.value)
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(tickets).where(*conditions))
    ).scalar_one()
    rows = await conn.execute(
        sa.select(tickets)
        .where(*conditions)
        .order_by(tickets.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [TicketPublic.model_validate(dict(r._mapping)) for r in rows], int(total)


async def get_ticket(conn: AsyncConnection, scope: Scope, ticket_id: int) -> TicketPublic | None:
    conditions = [c for c in (_visible(scope),) if c is not None]
    row = (
        await conn.execute(sa.select(tickets).where(tickets.c.id == ticket_id, *conditions))
    ).first()
    if row is None:
        return None
    log_rows = await conn.execute(
        sa.select(ticket_log).where(ticket_log.c.ticket_id == ticket_id).order_by(ticket_log.c.id)
    )
    ticket = TicketPublic.model_validate(dict(row._mapping))
    ticket.log = [TicketLogEntry.model_validate(dict(r._mapping)) for r in log_rows]
    return ticket
