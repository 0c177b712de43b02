"""Charger availability per port, for everyone in the community (residents included).

A port held by a resident's active reservation shows as ``reserved`` (see
:mod:`hub.chargers.reservations`); what state a stored reservation is really in
at a given moment is decided here too, since availability depends on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import DeviceFamily
from hub.chargers.models import (
    Availability,
    ChargerAvailability,
    PortAvailability,
    ReservationStatus,
)
from hub.chargers.tables import charger_reservations
from hub.devices.tables import devices
from hub.events.tables import events
from hub.grid.tables import buildings, grids
from hub.users.scope import Scope, nothing

# Device states a reservation does not cover up: a fault, or a car already charging.
_SHOWN_OVER_RESERVATION = frozenset({Availability.OUT_OF_ORDER, Availability.CHARGING})
# The events that say a port started charging (see hub.devices.state._charger).
_CHARGING_KINDS = ("charger.session_started", "charger.port_status")


def _port(number: str, data: dict[str, Any]) -> PortAvailability:
    raw = data.get("availability")
    try:
        availability = Availability(str(raw))
    except ValueError:
        availability = Availability.UNKNOWN
    power = data.get("power_w")
    updated = data.get("updated_at")
    return PortAvailability(
        port=int(number),
        availability=availability,
        status=data.get("status") if isinstance(data.get("status"), str) else None,
        power_w=float(power) if isinstance(power, int | float) else None,
        updated_at=datetime.fromisoformat(updated) if isinstance(updated, str) else None,
    )


def _summary(ports: Sequence[PortAvailability]) -> dict[Availability, int]:
    return {a: sum(1 for p in ports if p.availability is a) for a in Availability}


def availability_of(row: Any) -> ChargerAvailability:
    state: dict[str, Any] = row.state or {}
    ports_state: dict[str, Any] = state.get("ports", {})
    pile = state.get("pile", {})
    ports = sorted(
        (_port(n, d) for n, d in ports_state.items() if n.isdigit()), key=lambda p: p.port
    )
    if pile.get("availability") == Availability.OUT_OF_ORDER:
        # A fault of the whole pile (smoke, over-temperature) takes every port out.
        ports = [p.model_copy(update={"availability": Availability.OUT_OF_ORDER}) for p in ports]
    return ChargerAvailability(
        device_id=row.id,
        name=row.name,
        protocol=row.protocol,
        building_id=row.building_id,
        last_seen_at=row.last_seen_at,
        ports=ports,
        summary=_summary(ports),
    )


def visible_chargers(scope: Scope) -> sa.Select[Any]:
    """The chargers a user may see: those of their community (admins: all)."""
    query = (
        sa.select(devices)
        .select_from(
            devices.outerjoin(buildings, buildings.c.id == devices.c.building_id).outerjoin(
                grids, grids.c.id == buildings.c.grid_id
            )
        )
        .where(devices.c.family == DeviceFamily.CHARGER.value)
        .order_by(devices.c.id)
    )
    if not scope.sees_everything:
        query = query.where(
            grids.c.community_id == scope.community_id
            if scope.community_id is not None
            else nothing()
        )
    return query


async def find_charger(
    conn: AsyncConnection, scope: Scope, device_id: str
) -> ChargerAvailability | None:
    """One charger as its device state has it, if the user may see it."""
    row = (await conn.execute(visible_chargers(scope).where(devices.c.id == device_id))).first()
    return availability_of(row) if row is not None else None


async def charging_started(
    conn: AsyncConnection, device_id: str, port: int, since: datetime, until: datetime
) -> datetime | None:
    """When the port first started charging in [since, until], from the stored events."""
    if until < since:
        return None
    rows = await conn.execute(
        sa.select(events.c.kind, events.c["values"], events.c.received_at)
        .where(
            events.c.device_id == device_id,
            events.c.kind.in_(_CHARGING_KINDS),
            events.c.received_at >= since,
            events.c.received_at <= until,
        )
        .order_by(events.c.received_at)
    )
    for kind, values, received_at in rows:
        found: dict[str, Any] = values or {}
        if found.get("port") != port:
            continue
        if kind == "charger.session_started" or found.get("availability") == "charging":
            return received_at if isinstance(received_at, datetime) else None
    return None


async def effective_status(
    conn: AsyncConnection, reservation: Any, now: datetime
) -> tuple[ReservationStatus, datetime | None]:
    """What a stored reservation really is at ``now``, and when it ended.

    A row still stored as active is ``used`` once its port started charging while it
    was held, ``expired`` once its time ran out, and active otherwise. The stored
    row is brought up to date by whoever writes next (the expiry timer, a new
    reservation of the port or by its owner, a cancel); reads never wait for that.
    """
    status = ReservationStatus(reservation.status)
    if status is not ReservationStatus.ACTIVE:
        return status, reservation.ended_at
    used_at = await charging_started(
        conn,
        reservation.device_id,
        reservation.port,
        reservation.starts_at,
        min(now, reservation.ends_at),
    )
    if used_at is not None:
        return ReservationStatus.USED, used_at
    if reservation.ends_at <= now:
        return ReservationStatus.EXPIRED, reservation.ends_at
    return ReservationStatus.ACTIVE, None


async def reserved_ports(
    conn: AsyncConnection, device_ids: Sequence[str], now: datetime
) -> dict[tuple[str, int], Any]:
    """The reservations holding a port right now, by (device, port)."""
    if not device_ids:
        return {}
    rows = await conn.execute(
        sa.select(charger_reservations).where(
            charger_reservations.c.device_id.in_(list(device_ids)),
            charger_reservations.c.status == ReservationStatus.ACTIVE.value,
            charger_reservations.c.ends_at > now,
        )
    )
    held: dict[tuple[str, int], Any] = {}
    for row in rows.all():
        status, _ = await effective_status(conn, row, now)
        if status is ReservationStatus.ACTIVE:
            held[(row.device_id, int(row.port))] = row
    return held


def _with_reservations(
    charger: ChargerAvailability, held: dict[tuple[str, int], Any], scope: Scope
) -> ChargerAvailability:
    ports: list[PortAvailability] = []
    for port in charger.ports:
        reservation = held.get((charger.device_id, port.port))
        if reservation is None or port.availability in _SHOWN_OVER_RESERVATION:
            ports.append(port)
            continue
        update: dict[str, Any] = {"availability": Availability.RESERVED}
        if reservation.user_id == scope.user_id:
            update |= {"reserved_by_me": True, "reserved_until": reservation.ends_at}
        ports.append(port.model_copy(update=update))
    return charger.model_copy(update={"ports": ports, "summary": _summary(ports)})


async def list_availability(
    conn: AsyncConnection, scope: Scope, now: datetime | None = None
) -> list[ChargerAvailability]:
    now = now or datetime.now(UTC)
    chargers = [availability_of(row) for row in await conn.execute(visible_chargers(scope))]
    held = await reserved_ports(conn, [c.device_id for c in chargers], now)
    return [_with_reservations(c, held, scope) for c in chargers]
