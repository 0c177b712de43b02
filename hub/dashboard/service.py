"""The dashboard's figures, counted by the database.

Everything is scoped to one community (an admin may look at every community at
once: ``community_id=None``). The counting is done with SQL aggregates: per
building, per day and kind, per time-limit bucket, medians with window
functions. Only the chargers' port states are read into Python, because they
live in each charger's JSON state; there are a handful per community.

What each role may know about is decided where the alerts and tickets are listed
(hub.alerts.service.known_kinds, hub.tickets.service.known_tickets) and applied to
every figure here: a property manager's dashboard counts the property's alerts and
tickets only (device health, gates, locks, chargers, repairs, security, fire risk),
never elderly care nor a silent (duress) alarm and its confidential ticket. Duress
events are left out of a device's history for everyone but staff and admins, and a
wristband's history is redacted as hub.access.privacy says.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from device_adapters.kinds import KINDS
from hub.access.privacy import event_kinds_for, event_values_for
from hub.access.scope import Scope, sees_silent
from hub.access.visibility import known_kinds, known_tickets
from hub.dashboard.models import (
    ACTIVE_ALERTS_SHOWN,
    DAYS,
    DUE_SOON_MINUTES,
    ActiveAlert,
    AlertsDay,
    BuildingDevice,
    BuildingHealth,
    CloseDay,
    Dashboard,
    DeviceEventPublic,
    DeviceEvents,
    TicketLimits,
    TimeToClose,
)
from hub.devices.health import ACTIVE, LOW_BATTERY_PCT, faulted, out_of_order_among
from hub.devices.service import get_device
from hub.reports.periods import local_midnight
from hub.schema.alerts import alerts
from hub.schema.devices import devices
from hub.schema.events import events
from hub.schema.grid import buildings, communities, grids, households
from hub.schema.tickets import tickets
from hub.tickets.models import RESOLVING as RESOLVING  # re-exported: the tests count by them
from hub.tickets.models import RESPONDING as RESPONDING

SILENT_KINDS = tuple(sorted(name for name, info in KINDS.items() if info.silent))
_ACTIVE = ACTIVE
Known = Sequence[ColumnElement[bool]]  # which alerts (or tickets) the viewer may know about


def _device_building() -> ColumnElement[Any]:
    """A device's building: its household's, else the building it is installed in."""
    return sa.func.coalesce(households.c.building_id, devices.c.building_id)


_DEVICES = devices.outerjoin(households, households.c.id == devices.c.household_id)


def _grids_of(community_id: int | None) -> sa.Select[tuple[int]]:
    query = sa.select(grids.c.id)
    return query if community_id is None else query.where(grids.c.community_id == community_id)


def _buildings_of(community_id: int | None) -> sa.Select[tuple[int]]:
    return sa.select(buildings.c.id).where(buildings.c.grid_id.in_(_grids_of(community_id)))


def _alert_conditions(community_id: int | None, known: Known) -> list[ColumnElement[bool]]:
    # The same rule as hub.alerts.service for community-wide roles: the alert's grid.
    conditions: list[ColumnElement[bool]] = list(known)
    if community_id is not None:
        conditions.append(alerts.c.grid_id.in_(_grids_of(community_id)))
    return conditions


def _ticket_conditions(community_id: int | None, known: Known) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = list(known)
    if community_id is not None:
        conditions.append(tickets.c.community_id == community_id)
    return conditions


async def community_zone(conn: AsyncConnection, community_id: int | None) -> str | None:
    """The community's time zone name; "UTC" for every community; None: no such community."""
    if community_id is None:
        return "UTC"
    found = (
        await conn.execute(
            sa.select(communities.c.timezone).where(communities.c.id == community_id)
        )
    ).scalar_one_or_none()
    return str(found) if found is not None else None


def day_bounds(first: date, tz: ZoneInfo, days: int = DAYS) -> list[datetime]:
    """The UTC instants ``days`` local days from ``first`` begin, and the last one ends."""
    return [local_midnight(first + timedelta(days=n), tz) for n in range(days + 1)]


def _day_index(column: Any, bounds: Sequence[datetime]) -> ColumnElement[int]:
    """Which local day (0 = the oldest) an instant in [bounds[0], bounds[-1]) falls on."""
    whens = [(column < bounds[i + 1], i) for i in range(len(bounds) - 2)]
    return sa.case(*whens, else_=len(bounds) - 2)


def _hours_between(dialect: str, start: Any, end: Any) -> ColumnElement[Any]:
    if dialect == "sqlite":  # datetimes are stored as text, which julianday() reads
        return (sa.func.julianday(end) - sa.func.julianday(start)) * 24.0
    return sa.extract("epoch", end - start) / 3600.0


async def out_of_order_chargers(conn: AsyncConnection, community_id: int | None) -> set[str]:
    """Chargers with a port (or the whole pile) out of order, from their device state."""
    return await out_of_order_among(
        conn, _DEVICES, _device_building().in_(_buildings_of(community_id))
    )


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


async def building_health(
    conn: AsyncConnection, community_id: int | None, known: Known, out_of_order: set[str]
) -> list[BuildingHealth]:
    per_device = (
        sa.select(
            _device_building().label("building_id"),
            devices.c.online,
            devices.c.battery_pct,
            sa.case((faulted(known, out_of_order), 1), else_=0).label("faulted"),
        )
        .select_from(_DEVICES)
        .where(_device_building().in_(_buildings_of(community_id)))
        .subquery()
    )
    d = per_device.c
    counts = {
        row.building_id: row
        for row in await conn.execute(
            sa.select(
                d.building_id,
                sa.func.count().label("devices"),
                _count_if(d.online.is_(True)).label("online"),
                _count_if(d.online.is_(False)).label("offline"),
                _count_if(d.online.is_(None)).label("unknown"),
                _count_if(d.battery_pct < LOW_BATTERY_PCT).label("low_battery"),
                sa.func.coalesce(sa.func.sum(d.faulted), 0).label("faulted"),
            ).group_by(d.building_id)
        )
    }
    places = await conn.execute(
        sa.select(
            buildings.c.id, buildings.c.name, grids.c.id.label("grid_id"), grids.c.name.label("g")
        )
        .select_from(buildings.join(grids, grids.c.id == buildings.c.grid_id))
        .where(buildings.c.grid_id.in_(_grids_of(community_id)))
        .order_by(buildings.c.id)
    )
    result: list[BuildingHealth] = []
    for place in places:
        found = counts.get(place.id)
        figures = {
            name: int(getattr(found, name)) if found is not None else 0
            for name in ("devices", "online", "offline", "unknown", "low_battery", "faulted")
        }
        result.append(
            BuildingHealth(
                building_id=place.id,
                name=place.name,
                grid_id=place.grid_id,
                grid_name=place.g,
                **figures,
            )
        )
    return result


async def active_alerts(
    conn: AsyncConnection, community_id: int | None, known: Known
) -> tuple[list[ActiveAlert], int]:
    conditions = [alerts.c.status.in_(_ACTIVE), *_alert_conditions(community_id, known)]
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(alerts).where(*conditions))
    ).scalar_one()
    ticket_id = (
        sa.select(sa.func.min(tickets.c.id)).where(tickets.c.alert_id == alerts.c.id)
    ).scalar_subquery()
    rows = await conn.execute(
        sa.select(
            alerts.c.id,
            alerts.c.device_id,
            devices.c.name.label("device_name"),
            buildings.c.id.label("building_id"),
            buildings.c.name.label("building_name"),
            alerts.c.kind,
            alerts.c.severity,
            alerts.c.status,
            alerts.c.summary,
            alerts.c.titles,
            alerts.c.opened_at,
            alerts.c.last_event_at,
            alerts.c.event_count,
            alerts.c.silent,
            ticket_id.label("ticket_id"),
        )
        .select_from(
            alerts.outerjoin(devices, devices.c.id == alerts.c.device_id)
            .outerjoin(households, households.c.id == devices.c.household_id)
            .outerjoin(buildings, buildings.c.id == _device_building())
        )
        .where(*conditions)
        .order_by(alerts.c.opened_at.desc(), alerts.c.id.desc())
        .limit(ACTIVE_ALERTS_SHOWN)
    )
    return [ActiveAlert.model_validate(dict(r._mapping)) for r in rows], int(total)


async def tickets_by_limit(
    conn: AsyncConnection, community_id: int | None, known: Known, now: datetime
) -> TicketLimits:
    """Tickets with a running limit, by the nearest one: overdue, due soon or on time.

    While a ticket waits to be accepted both its limits run (the response limit is
    the nearer one); once accepted only the resolution limit does. A limit counts
    from the due time itself, so an extension that moved it makes the ticket on
    time again although it was once marked overdue.
    """
    responding = tickets.c.status.in_([s.value for s in RESPONDING])
    soon = now + timedelta(minutes=DUE_SOON_MINUTES)
    response, resolve = tickets.c.response_due_at, tickets.c.resolve_due_at
    bucket = sa.case(
        (sa.or_(sa.and_(responding, response <= now), resolve <= now), "overdue"),
        (sa.or_(sa.and_(responding, response < soon), resolve < soon), "due_soon"),
        (sa.and_(resolve.is_(None), sa.or_(~responding, response.is_(None))), "without_limit"),
        else_="on_time",
    )
    inner = (
        sa.select(bucket.label("bucket"))
        .where(
            tickets.c.status.in_([s.value for s in RESOLVING]),
            *_ticket_conditions(community_id, known),
        )
        .subquery()
    )
    counts: dict[str, int] = {
        str(row.bucket): int(row.n)
        for row in await conn.execute(
            sa.select(inner.c.bucket, sa.func.count().label("n")).group_by(inner.c.bucket)
        )
    }
    return TicketLimits(
        open=sum(counts.values()),
        on_time=counts.get("on_time", 0),
        due_soon=counts.get("due_soon", 0),
        overdue=counts.get("overdue", 0),
        without_limit=counts.get("without_limit", 0),
    )


async def alerts_per_day(
    conn: AsyncConnection,
    community_id: int | None,
    known: Known,
    first: date,
    bounds: Sequence[datetime],
) -> tuple[list[AlertsDay], list[str]]:
    """Alerts opened per local day (``first`` onwards) and kind; the kinds, most frequent first."""
    inner = (
        sa.select(_day_index(alerts.c.opened_at, bounds).label("day"), alerts.c.kind)
        .where(
            alerts.c.opened_at >= bounds[0],
            alerts.c.opened_at < bounds[-1],
            *_alert_conditions(community_id, known),
        )
        .subquery()
    )
    n_days = len(bounds) - 1
    per_day: list[dict[str, int]] = [{} for _ in range(n_days)]
    totals: dict[str, int] = {}
    for row in await conn.execute(
        sa.select(inner.c.day, inner.c.kind, sa.func.count().label("n")).group_by(
            inner.c.day, inner.c.kind
        )
    ):
        per_day[int(row.day)][str(row.kind)] = int(row.n)
        totals[str(row.kind)] = totals.get(str(row.kind), 0) + int(row.n)
    kinds = sorted(totals, key=lambda k: (-totals[k], k))
    days = [
        AlertsDay(
            date=first + timedelta(days=i),
            total=sum(counts.values()),
            by_kind={k: counts[k] for k in kinds if k in counts},
        )
        for i, counts in enumerate(per_day)
    ]
    return days, kinds


def _median_rows(source: sa.Subquery, *, per_day: bool) -> sa.Select[tuple[Any, ...]]:
    """The median of ``source.hours`` (the mean of the middle two), per day or overall."""
    partition = source.c.day if per_day else None
    ranked = sa.select(
        source.c.day,
        source.c.hours,
        sa.func.row_number().over(partition_by=partition, order_by=source.c.hours).label("rn"),
        sa.func.count().over(partition_by=partition).label("n"),
    ).subquery()
    r = ranked.c
    # rn is the middle row (odd n) or one of the middle two (even n): 2·rn in [n, n + 2].
    query = sa.select(
        *([r.day] if per_day else []),
        sa.func.avg(r.hours).label("median"),
        sa.func.max(r.n).label("n"),
    ).where(r.rn * 2 >= r.n, r.rn * 2 <= r.n + 2)
    return query.group_by(r.day) if per_day else query


async def time_to_close(
    conn: AsyncConnection,
    community_id: int | None,
    known: Known,
    first: date,
    bounds: Sequence[datetime],
) -> TimeToClose:
    """Median hours from registered to closed, of tickets closed on each local day."""
    closed = (
        sa.select(
            _day_index(tickets.c.closed_at, bounds).label("day"),
            _hours_between(conn.dialect.name, tickets.c.created_at, tickets.c.closed_at).label(
                "hours"
            ),
        )
        .where(
            tickets.c.closed_at.is_not(None),
            tickets.c.closed_at >= bounds[0],
            tickets.c.closed_at < bounds[-1],
            *_ticket_conditions(community_id, known),
        )
        .subquery()
    )
    per_day = {int(row.day): row for row in await conn.execute(_median_rows(closed, per_day=True))}
    overall = (await conn.execute(_median_rows(closed, per_day=False))).first()
    days = []
    for i in range(len(bounds) - 1):
        found = per_day.get(i)
        days.append(
            CloseDay(
                date=first + timedelta(days=i),
                closed=int(found.n) if found is not None else 0,
                median_hours=_hours(found.median) if found is not None else None,
            )
        )
    return TimeToClose(
        days=days,
        closed=sum(d.closed for d in days),
        median_hours=_hours(overall.median) if overall is not None else None,
    )


def _hours(value: Any) -> float | None:
    if value is None:
        return None
    hours = float(value)
    # Six decimals (a few ms): julianday() arithmetic is off by ~1e-9 h, and a ticket
    # closed within seconds must not round to zero.
    return round(hours, 6) if math.isfinite(hours) else None


async def build_dashboard(
    conn: AsyncConnection, scope: Scope, community_id: int | None, tz_name: str, now: datetime
) -> Dashboard:
    """The whole dashboard for ``community_id`` (None: every community) as ``scope`` sees it."""
    alerts_known, tickets_known = known_kinds(scope), known_tickets(scope)
    tz = ZoneInfo(tz_name)
    today = now.astimezone(tz).date()
    first = today - timedelta(days=DAYS - 1)
    bounds = day_bounds(first, tz)
    out_of_order = await out_of_order_chargers(conn, community_id)
    alert_list, alert_total = await active_alerts(conn, community_id, alerts_known)
    per_day, kinds = await alerts_per_day(conn, community_id, alerts_known, first, bounds)
    return Dashboard(
        generated_at=now.astimezone(UTC),
        community_id=community_id,
        timezone=tz_name,
        first_day=first,
        last_day=today,
        buildings=await building_health(conn, community_id, alerts_known, out_of_order),
        active_alerts=alert_list,
        active_alerts_total=alert_total,
        tickets_by_limit=await tickets_by_limit(conn, community_id, tickets_known, now),
        alert_kinds=kinds,
        alerts_per_day=per_day,
        time_to_close=await time_to_close(conn, community_id, tickets_known, first, bounds),
    )


async def building_devices(
    conn: AsyncConnection, scope: Scope, community_id: int | None, building_id: int
) -> list[BuildingDevice] | None:
    """The devices of one building (its households' too); None: not a building in view."""
    in_view = (
        await conn.execute(_buildings_of(community_id).where(buildings.c.id == building_id))
    ).first()
    if in_view is None:
        return None
    known = known_kinds(scope)
    out_of_order = await out_of_order_chargers(conn, community_id)
    active_count = (
        sa.select(sa.func.count())
        .select_from(alerts)
        .where(alerts.c.device_id == devices.c.id, alerts.c.status.in_(_ACTIVE), *known)
        .scalar_subquery()
    )
    rows = await conn.execute(
        sa.select(
            devices.c.id,
            devices.c.name,
            devices.c.family,
            devices.c.online,
            devices.c.availability_reason,
            devices.c.battery_pct,
            devices.c.last_seen_at,
            sa.func.coalesce(devices.c.battery_pct < LOW_BATTERY_PCT, False).label("low_battery"),
            faulted(known, out_of_order).label("faulted"),
            active_count.label("active_alerts"),
        )
        .select_from(_DEVICES)
        .where(_device_building() == building_id)
        .order_by(devices.c.name, devices.c.id)
    )
    return [BuildingDevice.model_validate(dict(r._mapping)) for r in rows]


async def device_events(
    conn: AsyncConnection, scope: Scope, device_id: str, limit: int
) -> DeviceEvents | None:
    """A device's latest events, newest first; None if the caller may not see the device.
    A wristband's readings, positions and alarms only for who may see its vitals."""
    device = await get_device(conn, scope, device_id)
    if device is None:
        return None
    conditions: list[ColumnElement[bool]] = [events.c.device_id == device_id]
    shown = event_kinds_for(scope, device)
    if shown is not None:
        conditions.append(shown)
    if not sees_silent(scope):
        silent_alerts = sa.select(alerts.c.id).where(alerts.c.silent.is_(True))
        conditions += [
            events.c.kind.not_in(SILENT_KINDS),
            sa.or_(events.c.alert_id.is_(None), events.c.alert_id.not_in(silent_alerts)),
        ]
    rows = await conn.execute(
        sa.select(
            events.c.event_id,
            events.c.kind,
            events.c.severity,
            events.c.lane,
            events.c.device_time,
            events.c.received_at,
            events.c["values"],
            events.c.alert_id,
        )
        .where(*conditions)
        .order_by(events.c.received_at.desc(), events.c.stored_at.desc())
        .limit(limit)
    )
    return DeviceEvents(
        device_id=device_id,
        items=[
            DeviceEventPublic.model_validate(
                {**r._mapping, "values": event_values_for(scope, device, r._mapping["values"])}
            )
            for r in rows
        ],
    )
