"""Open an alert for an alarm event, or attach a repeat to the one already open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from device_adapters.model import DeviceEvent
from hub.alerts.models import AlertPublic, AlertStatus
from hub.alerts.tables import alerts
from hub.devices.models import DeviceContext
from hub.tickets.tables import tickets
from hub.users.models import Role
from hub.users.scope import Scope, grids_of_community, nothing


@dataclass(frozen=True)
class AlertOutcome:
    alert_id: int
    opened: bool


def _coordinate(event: DeviceEvent, key: str) -> float | None:
    value = event.values.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


async def open_or_attach(
    conn: AsyncConnection, event: DeviceEvent, ctx: DeviceContext, summary: str
) -> AlertOutcome:
    active = (
        await conn.execute(
            sa.select(alerts.c.id, alerts.c.last_event_at).where(
                alerts.c.device_id == event.device_id,
                alerts.c.kind == event.kind,
                alerts.c.status != AlertStatus.CLEARED.value,
            )
        )
    ).first()
    if active is not None:
        await conn.execute(
            alerts.update()
            .where(alerts.c.id == active.id)
            .values(
                event_count=alerts.c.event_count + 1,
                last_event_at=max(active.last_event_at, event.received_at),
            )
        )
        return AlertOutcome(alert_id=active.id, opened=False)
    result = await conn.execute(
        alerts.insert().values(
            device_id=event.device_id,
            kind=event.kind,
            severity=event.severity.value,
            status=AlertStatus.OPEN.value,
            opened_at=event.received_at,
            last_event_at=event.received_at,
            event_count=1,
            summary=summary[:300],
            resident_id=ctx.resident_id,
            household_id=ctx.household_id,
            grid_id=ctx.grid_id,
            latitude=_coordinate(event, "latitude"),
            longitude=_coordinate(event, "longitude"),
        )
    )
    assert result.inserted_primary_key is not None
    return AlertOutcome(alert_id=int(result.inserted_primary_key[0]), opened=True)


def _visible(scope: Scope) -> ColumnElement[bool] | None:
    if scope.sees_everything:
        return None
    if scope.is_community_wide:
        return alerts.c.grid_id.in_(grids_of_community(scope))
    if scope.role is Role.VOLUNTEER:
        # A volunteer sees the alerts behind the tickets assigned to them.
        mine = sa.select(tickets.c.alert_id).where(tickets.c.assignee_id == scope.user_id)
        return alerts.c.id.in_(mine)
    if scope.household_id is not None:
        return alerts.c.household_id == scope.household_id
    return nothing()


def _select() -> sa.Select[Any]:
    ticket_id = (
        sa.select(sa.func.min(tickets.c.id))
        .where(tickets.c.alert_id == alerts.c.id)
        .scalar_subquery()
        .label("ticket_id")
    )
    return sa.select(alerts, ticket_id)


async def list_alerts(
    conn: AsyncConnection,
    scope: Scope,
    *,
    status: AlertStatus | None,
    kind: str | None,
    limit: int,
    offset: int,
) -> tuple[list[AlertPublic], int]:
    conditions = [c for c in (_visible(scope),) if c is not None]
    if status is not None:
        conditions.append(alerts.c.status == status.value)
    if kind:
        conditions.append(alerts.c.kind == kind)
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(alerts).where(*conditions))
    ).scalar_one()
    rows = await conn.execute(
        _select().where(*conditions).order_by(alerts.c.id.desc()).limit(limit).offset(offset)
    )
    return [AlertPublic.model_validate(dict(r._mapping)) for r in rows], int(total)


async def get_alert(conn: AsyncConnection, scope: Scope, alert_id: int) -> AlertPublic | None:
    conditions = [c for c in (_visible(scope),) if c is not None]
    row = (await conn.execute(_select().where(alerts.c.id == alert_id, *conditions))).first()
    return AlertPublic.model_validate(dict(row._mapping)) if row else None
