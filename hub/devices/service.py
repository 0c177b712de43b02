"""The device registry: registration, last-known state from events, routing context."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from device_adapters.model import DeviceAvailability, DeviceEvent, DeviceFamily
from hub.access.privacy import device_for
from hub.access.scope import Scope
from hub.access.visibility import device_places, known_kinds, visible_devices
from hub.devices.health import faulted, out_of_order_among
from hub.devices.models import DeviceContext, DevicePublic
from hub.devices.state import faulted_parts, merge_state
from hub.schema.devices import devices


async def register_device(
    conn: AsyncConnection,
    *,
    device_id: str,
    family: str,
    protocol: str,
    name: str,
    household_id: int | None = None,
    resident_id: int | None = None,
    building_id: int | None = None,
    gateway_id: str | None = None,
) -> None:
    await conn.execute(
        devices.insert().values(
            gateway_id=gateway_id,
            id=device_id,
            family=family,
            protocol=protocol,
            name=name,
            registered=True,
            household_id=household_id,
            resident_id=resident_id,
            building_id=building_id,
            state={},
        )
    )


_BATCH_UPDATE = (
    devices.update()
    .where(devices.c.id == sa.bindparam("b_id"))
    .values(
        state=sa.bindparam("b_state", type_=devices.c.state.type),
        last_seen_at=sa.bindparam("b_last_seen", type_=devices.c.last_seen_at.type),
        last_gateway_id=sa.bindparam("b_gateway"),
        battery_pct=sa.func.coalesce(
            sa.bindparam("b_battery", type_=sa.Integer), devices.c.battery_pct
        ),
        first_seen_at=sa.func.coalesce(
            devices.c.first_seen_at,
            sa.bindparam("b_first_seen", type_=devices.c.first_seen_at.type),
        ),
    )
)


async def apply_events(
    conn: AsyncConnection, fresh: Sequence[DeviceEvent]
) -> dict[str, DeviceContext]:
    """Update last-seen, battery and state of every device in ``fresh``.

    A device nobody registered is added as unregistered, so its events are
    kept and an admin can adopt it. Returns each device's routing context.
    """
    by_device: dict[str, list[DeviceEvent]] = {}
    for event in fresh:
        by_device.setdefault(event.device_id, []).append(event)
    if not by_device:
        return {}
    query = device_places().where(devices.c.id.in_(list(by_device)))
    known = {row.id: row for row in await conn.execute(query)}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    states: dict[str, dict[str, Any]] = {}
    for device_id, device_events in by_device.items():
        first = device_events[0]
        row = known.get(device_id)
        state: dict[str, Any] = dict(row.state) if row else {}
        last_seen: datetime | None = row.last_seen_at if row else None
        battery: int | None = None
        for event in sorted(device_events, key=lambda e: e.received_at):
            state = merge_state(state, event)
            battery_value = event.values.get("battery_pct")
            if isinstance(battery_value, int | float) and not isinstance(battery_value, bool):
                battery = int(battery_value)
            if last_seen is None or event.received_at > last_seen:
                last_seen = event.received_at
        states[device_id] = state
        if row is None:
            inserts.append(
                {
                    "id": device_id,
                    "family": first.family.value,
                    "protocol": first.protocol,
                    "name": f"Unregistered {first.family.value} {device_id}",
                    "registered": False,
                    "first_seen_at": min(e.received_at for e in device_events),
                    "state": state,
                    "last_seen_at": last_seen,
                    "last_gateway_id": device_events[-1].gateway_id,
                    # Every event here came from one gateway (sources.admit_events).
                    "gateway_id": device_events[-1].gateway_id,
                    "battery_pct": battery,
                }
            )
        else:
            updates.append(
                {
                    "b_id": device_id,
                    "b_state": state,
                    "b_last_seen": last_seen,
                    "b_gateway": device_events[-1].gateway_id,
                    "b_battery": battery,
                    "b_first_seen": first.received_at,
                }
            )
    # One statement for all devices (executemany): a round trip per device was
    # most of a batch's time with many distinct devices.
    if inserts:
        await conn.execute(devices.insert(), inserts)
    if updates:
        await conn.execute(_BATCH_UPDATE, updates)
    contexts: dict[str, DeviceContext] = {}
    for device_id, device_events in by_device.items():
        row = known.get(device_id)
        family = device_events[0].family
        contexts[device_id] = DeviceContext(
            device_id=device_id,
            family=family.value,
            name=row.name if row else device_id,
            resident_id=row.resident_id if row else None,
            household_id=row.household_id if row else None,
            building_id=row.any_building_id if row else None,
            grid_id=row.grid_id if row else None,
            community_id=row.community_id if row else None,
            faulted_parts=faulted_parts(states[device_id])
            if family is DeviceFamily.CHARGER
            else (),
        )
    return contexts


@dataclass(frozen=True)
class DeviceFilters:
    """GET /api/v1/devices' filters; None: not filtered on."""

    family: str | None = None
    building_id: int | None = None  # its household's building, or the one it is installed in
    grid_id: int | None = None
    online: bool | None = None  # as the edge last reported; never reported matches neither
    battery_below: int | None = None  # percent; a device that never reported one is left out
    faulted: bool | None = None  # hub.devices.health


def _placed_in(column: str, value: int) -> ColumnElement[bool]:
    ctx = device_places().subquery()
    return devices.c.id.in_(sa.select(ctx.c.id).where(ctx.c[column] == value))


async def _filter_conditions(
    conn: AsyncConnection, scope: Scope, visible: list[ColumnElement[bool]], f: DeviceFilters
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if f.family:
        conditions.append(devices.c.family == f.family)
    if f.building_id is not None:
        conditions.append(_placed_in("any_building_id", f.building_id))
    if f.grid_id is not None:
        conditions.append(_placed_in("grid_id", f.grid_id))
    if f.online is not None:
        conditions.append(devices.c.online.is_(f.online))
    if f.battery_below is not None:
        conditions.append(devices.c.battery_pct < f.battery_below)
    if f.faulted is not None:
        out_of_order = await out_of_order_among(conn, devices, *visible)
        condition = faulted(known_kinds(scope), out_of_order)
        conditions.append(condition if f.faulted else ~condition)
    return conditions


async def list_devices(
    conn: AsyncConnection,
    scope: Scope,
    *,
    family: str | None,
    limit: int,
    offset: int,
    filters: DeviceFilters | None = None,
) -> tuple[list[DevicePublic], int]:
    """The devices the caller may see, by id, as they may see them (hub.access.privacy)."""
    visible = [c for c in (visible_devices(scope),) if c is not None]
    wanted = replace(filters or DeviceFilters(), family=family)
    conditions = visible + await _filter_conditions(conn, scope, visible, wanted)
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(devices).where(*conditions))
    ).scalar_one()
    rows = await conn.execute(
        sa.select(devices).where(*conditions).order_by(devices.c.id).limit(limit).offset(offset)
    )
    return [device_for(scope, DevicePublic.model_validate(dict(r._mapping))) for r in rows], int(
        total
    )


async def get_device(conn: AsyncConnection, scope: Scope, device_id: str) -> DevicePublic | None:
    """The device if the caller may see it, as they may see it (hub.access.privacy)."""
    conditions = [c for c in (visible_devices(scope),) if c is not None]
    row = (
        await conn.execute(sa.select(devices).where(devices.c.id == device_id, *conditions))
    ).first()
    return device_for(scope, DevicePublic.model_validate(dict(row._mapping))) if row else None


async def device_context(conn: AsyncConnection, device_id: str) -> DeviceContext | None:
    """Where a registered or seen device sits, for alarms raised later (timers)."""
    row = (await conn.execute(device_places().where(devices.c.id == device_id))).first()
    if row is None:
        return None
    return DeviceContext(
        device_id=device_id,
        family=row.family,
        name=row.name,
        resident_id=row.resident_id,
        household_id=row.household_id,
        building_id=row.any_building_id,
        grid_id=row.grid_id,
        community_id=row.community_id,
    )


async def apply_availability(
    conn: AsyncConnection, reports: Sequence[DeviceAvailability]
) -> list[DeviceAvailability]:
    """Record reachability reports; an older report never overwrites a newer one.

    Returns the reports that changed a device. Reports for devices the hub does
    not know are ignored: availability alone does not register a device. A
    report already applied (same time) changes nothing: with several hubs each
    one applies every report (hub.bridge.mqtt_bridge.subscriptions), and only
    the first may start or clear what the change means.
    """
    changed: list[DeviceAvailability] = []
    for report in sorted(reports, key=lambda r: r.at):
        result = await conn.execute(
            devices.update()
            .where(
                devices.c.id == report.device_id,
                sa.or_(
                    devices.c.availability_changed_at.is_(None),
                    devices.c.availability_changed_at < report.at,
                ),
            )
            .values(
                online=report.online,
                availability_reason=report.reason,
                availability_changed_at=report.at,
            )
        )
        if result.rowcount:
            changed.append(report)
    return changed
