"""Open an alert for an alarm event, or attach a repeat to the one already open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import DeviceEvent, Severity
from hub.access.scope import Scope
from hub.access.visibility import visible_alerts
from hub.alerts.models import AlertPublic
from hub.alerts.repeats import AlertRepeats
from hub.devices.models import DeviceContext
from hub.errors import Conflict, NotFound
from hub.schema.alerts import AlertStatus, alerts
from hub.schema.tickets import tickets


@dataclass(frozen=True)
class AlertOutcome:
    alert_id: int
    opened: bool
    # A repeat read from the store (the first of its batch): the alert's previous event.
    previous_at: datetime | None = None


def _coordinate(event: DeviceEvent, key: str) -> float | None:
    value = event.values.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


async def open_or_attach(
    conn: AsyncConnection,
    event: DeviceEvent,
    ctx: DeviceContext,
    summary: str,
    *,
    silent: bool = False,
    rule_id: str | None = None,
) -> AlertOutcome:
    """An alert for an alarm event (its kind and severity)."""
    return await open_or_attach_kind(
        conn,
        device_id=event.device_id,
        kind=event.kind,
        severity=event.severity,
        at=event.received_at,
        ctx=ctx,
        summary=summary,
        silent=silent,
        rule_id=rule_id,
        latitude=_coordinate(event, "latitude"),
        longitude=_coordinate(event, "longitude"),
    )


async def open_or_attach_kind(
    conn: AsyncConnection,
    *,
    device_id: str,
    kind: str,
    severity: Severity,
    at: datetime,
    ctx: DeviceContext,
    summary: str,
    titles: dict[str, str] | None = None,
    silent: bool = False,
    rule_id: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    repeats: AlertRepeats | None = None,
) -> AlertOutcome:
    """Open an alert of ``kind`` for a device, or count a repeat on the one already active.

    With ``repeats`` (an ingest batch), a repeat is counted there and written
    when the batch flushes it, instead of by an UPDATE of its own.
    """
    if repeats is not None and (known := repeats.active(device_id, kind)) is not None:
        repeats.count(known, at)
        return AlertOutcome(alert_id=known, opened=False)
    active = (
        await conn.execute(
            sa.select(alerts.c.id, alerts.c.last_event_at).where(
                alerts.c.device_id == device_id,
                alerts.c.kind == kind,
                alerts.c.status != AlertStatus.CLEARED.value,
            )
        )
    ).first()
    if active is not None and repeats is not None:
        repeats.remember(device_id, kind, active.id)
        repeats.count(active.id, at)
        return AlertOutcome(alert_id=active.id, opened=False, previous_at=active.last_event_at)
    if active is not None:
        await conn.execute(
            alerts.update()
            .where(alerts.c.id == active.id)
            .values(
                event_count=alerts.c.event_count + 1,
                last_event_at=max(active.last_event_at, at),
            )
        )
        return AlertOutcome(alert_id=active.id, opened=False, previous_at=active.last_event_at)
    result = await conn.execute(
        alerts.insert().values(
            device_id=device_id,
            kind=kind,
            severity=severity.value,
            status=AlertStatus.OPEN.value,
            opened_at=at,
            last_event_at=at,
            event_count=1,
            summary=summary[:300],
            titles={k: v[:300] for k, v in titles.items()} if titles else None,
            resident_id=ctx.resident_id,
            household_id=ctx.household_id,
            grid_id=ctx.grid_id,
            latitude=latitude,
            longitude=longitude,
            silent=silent,
            rule_id=rule_id,
        )
    )
    assert result.inserted_primary_key is not None
    alert_id = int(result.inserted_primary_key[0])
    if repeats is not None:
        repeats.remember(device_id, kind, alert_id)
    return AlertOutcome(alert_id=alert_id, opened=True)


async def active_alert_keys(conn: AsyncConnection, device_ids: list[str]) -> set[tuple[str, str]]:
    """(device, kind) of every alert not yet cleared, for the given devices."""
    found: set[tuple[str, str]] = set()
    for start in range(0, len(device_ids), 500):
        rows = await conn.execute(
            sa.select(alerts.c.device_id, alerts.c.kind).where(
                alerts.c.device_id.in_(device_ids[start : start + 500]),
                alerts.c.status != AlertStatus.CLEARED.value,
            )
        )
        found.update((r.device_id, r.kind) for r in rows)
    return found


async def clear_active(
    conn: AsyncConnection,
    device_id: str,
    kind: str,
    at: datetime,
    reason: str,
    by: int | None = None,
) -> int | None:
    """Clear the device's active alert of ``kind``; returns its id (None: none was active)."""
    row = (
        await conn.execute(
            sa.select(alerts.c.id).where(
                alerts.c.device_id == device_id,
                alerts.c.kind == kind,
                alerts.c.status != AlertStatus.CLEARED.value,
            )
        )
    ).first()
    if row is None:
        return None
    await conn.execute(
        alerts.update()
        .where(alerts.c.id == row.id)
        .values(
            status=AlertStatus.CLEARED.value,
            cleared_at=at,
            cleared_by=by,
            clear_reason=reason[:200],
        )
    )
    return int(row.id)


class AlertNotFound(NotFound):
    pass


class AlertStateConflict(Conflict):
    pass


async def acknowledge(
    conn: AsyncConnection, scope: Scope, alert_id: int, now: datetime
) -> AlertPublic:
    """Someone has it in hand: the escalation chain stops at its next timer."""
    alert = await get_alert(conn, scope, alert_id)
    if alert is None:
        raise AlertNotFound(f"no alert {alert_id} visible to you")
    if alert.status is not AlertStatus.OPEN:
        raise AlertStateConflict(f"alert {alert_id} is {alert.status.value}, not open")
    await conn.execute(
        alerts.update()
        .where(alerts.c.id == alert_id, alerts.c.status == AlertStatus.OPEN.value)
        .values(
            status=AlertStatus.ACKNOWLEDGED.value,
            acknowledged_at=now,
            acknowledged_by=scope.user_id,
        )
    )
    found = await get_alert(conn, scope, alert_id)
    assert found is not None
    return found


async def clear(
    conn: AsyncConnection, scope: Scope, alert_id: int, reason: str, now: datetime
) -> AlertPublic:
    """A person clears an alert the device cannot clear by itself."""
    alert = await get_alert(conn, scope, alert_id)
    if alert is None:
        raise AlertNotFound(f"no alert {alert_id} visible to you")
    if alert.status is AlertStatus.CLEARED:
        raise AlertStateConflict(f"alert {alert_id} is already cleared")
    await clear_active(conn, alert.device_id, alert.kind, now, reason, by=scope.user_id)
    found = await get_alert(conn, scope, alert_id)
    assert found is not None
    return found


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
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[AlertPublic], int]:
    """Alerts the caller may see, newest first; ``since``/``until``: opened in [since, until)."""
    conditions = [c for c in (visible_alerts(scope),) if c is not None]
    if status is not None:
        conditions.append(alerts.c.status == status.value)
    if kind:
        conditions.append(alerts.c.kind == kind)
    if since is not None:
        conditions.append(alerts.c.opened_at >= since)
    if until is not None:
        conditions.append(alerts.c.opened_at < until)
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(alerts).where(*conditions))
    ).scalar_one()
    rows = await conn.execute(
        _select().where(*conditions).order_by(alerts.c.id.desc()).limit(limit).offset(offset)
    )
    return [AlertPublic.model_validate(dict(r._mapping)) for r in rows], int(total)


async def get_alert(conn: AsyncConnection, scope: Scope, alert_id: int) -> AlertPublic | None:
    conditions = [c for c in (visible_alerts(scope),) if c is not None]
    row = (await conn.execute(_select().where(alerts.c.id == alert_id, *conditions))).first()
    return AlertPublic.model_validate(dict(row._mapping)) if row else None
