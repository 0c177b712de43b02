"""Charger availability per port, for everyone in the community (residents included).

A port held by a resident's active reservation shows as ``reserved`` (see
:mod:`hub.chargers.reservations`); what state a stored reservation is really in
at a given moment is decided here too, since availability depends on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import DeviceFamily
from hub.access.scope import Scope, nothing
from hub.access.visibility import visible_chargers
from hub.chargers.models import (
    Availability,
    ChargerAvailability,
    PortAvailability,
    ReservationStatus,
)
from hub.chargers.words import labelled, port_label
from hub.i18n.locales import DEFAULT
from hub.schema.chargers import charger_reservations
from hub.schema.devices import devices
from hub.schema.events import events
from hub.schema.grid import buildings, grids

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


# --- The availability list: every charger the caller may see, from the device state
# ingest keeps. A charger's answer is a pure function of its row, so it is built and
# serialised once per change of that row and kept here; a request only reads the rows
# and joins the kept JSON (building 3,000 port models per request was 30 ms of CPU).
# Ports held by a reservation are the exception: they depend on the caller and the
# clock and are built per request, for those chargers only.


@dataclass(frozen=True, slots=True)
class _Rendered:
    key: tuple[Any, ...]
    charger: ChargerAvailability
    json: bytes


# Kept per device and language: the ports' labels are in the JSON (hub.chargers.words).
_rendered: dict[tuple[str, str], _Rendered] = {}
# Far above any hub's chargers (about 10 kB each); only devices removed for good pile up.
_MAX_RENDERED = 10_000
_R = charger_reservations


@cache  # built once per kind of scope: building and keying a joined select per request costs
def _availability_query(everything: bool, has_community: bool) -> sa.Select[Any]:
    """``visible_chargers`` by id: the columns their answer is made of, the state as its
    stored JSON text (the cache key, parsed only when it changed) and whether an active
    reservation not yet past its end holds one of their ports."""
    held = (
        sa.exists()
        .where(
            _R.c.device_id == devices.c.id,
            _R.c.status == ReservationStatus.ACTIVE.value,
            _R.c.ends_at > sa.bindparam("now", type_=_R.c.ends_at.type),
        )
        .correlate(devices)
    )
    query = (
        sa.select(
            devices.c.id,
            devices.c.name,
            devices.c.protocol,
            devices.c.building_id,
            devices.c.last_seen_at,
            sa.cast(devices.c.state, sa.Text).label("state_json"),
            held.label("held"),
        )
        .select_from(
            devices.outerjoin(buildings, buildings.c.id == devices.c.building_id).outerjoin(
                grids, grids.c.id == buildings.c.grid_id
            )
        )
        .where(devices.c.family == DeviceFamily.CHARGER.value)
        .order_by(devices.c.id)
    )
    if everything:
        return query
    if has_community:
        return query.where(grids.c.community_id == sa.bindparam("community_id"))
    return query.where(nothing())


def _render(device_id: str, key: tuple[Any, ...], language: str) -> _Rendered:
    name, protocol, building_id, last_seen_at, state_json = key
    row = SimpleNamespace(
        id=device_id,
        name=name,
        protocol=protocol,
        building_id=building_id,
        last_seen_at=last_seen_at,
        state=orjson.loads(state_json) if state_json else None,
    )
    charger = labelled(availability_of(row), language)
    rendered = _Rendered(key, charger, charger.__pydantic_serializer__.to_json(charger))
    if len(_rendered) >= _MAX_RENDERED:
        _rendered.clear()
    _rendered[(device_id, language)] = rendered
    return rendered


async def reserved_ports(
    conn: AsyncConnection, device_ids: Sequence[str], now: datetime
) -> dict[str, dict[int, Any]]:
    """The reservations holding a port right now, by device and port."""
    if not device_ids:
        return {}
    rows = await conn.execute(
        sa.select(_R).where(
            _R.c.device_id.in_(list(device_ids)),
            _R.c.status == ReservationStatus.ACTIVE.value,
            _R.c.ends_at > now,
        )
    )
    held: dict[str, dict[int, Any]] = {}
    for row in rows.all():
        # Still active unless the port was used meanwhile (its events say so).
        status, _ = await effective_status(conn, row, now)
        if status is ReservationStatus.ACTIVE:
            held.setdefault(row.device_id, {})[int(row.port)] = row
    return held


def _with_reservations(
    charger: ChargerAvailability, held: dict[int, Any], scope: Scope, language: str
) -> ChargerAvailability:
    """The charger with the ports in ``held`` (reservations by port) shown reserved."""
    ports: list[PortAvailability] = []
    for port in charger.ports:
        reservation = held.get(port.port)
        if reservation is None or port.availability in _SHOWN_OVER_RESERVATION:
            ports.append(port)
            continue
        update: dict[str, Any] = {
            "availability": Availability.RESERVED,
            "availability_label": port_label(Availability.RESERVED, language),
        }
        if reservation.user_id == scope.user_id:
            update |= {"reserved_by_me": True, "reserved_until": reservation.ends_at}
        ports.append(port.model_copy(update=update))
    return charger.model_copy(update={"ports": ports, "summary": _summary(ports)})


async def _availability(
    conn: AsyncConnection, scope: Scope, now: datetime, language: str
) -> list[tuple[ChargerAvailability, bytes]]:
    """Each visible charger as a model and as its JSON, ordered by device id."""
    query = _availability_query(scope.sees_everything, scope.community_id is not None)
    params: dict[str, Any] = {"now": now}
    if not scope.sees_everything and scope.community_id is not None:
        params["community_id"] = scope.community_id
    found: list[_Rendered] = []
    with_reservations: list[str] = []
    kept = _rendered
    for device_id, *key, held in await conn.execute(query, params):
        rendered = kept.get((device_id, language))
        if rendered is None or rendered.key != tuple(key):
            rendered = _render(device_id, tuple(key), language)
        found.append(rendered)
        if held:
            with_reservations.append(device_id)
    if not with_reservations:
        return [(r.charger, r.json) for r in found]
    reserved = await reserved_ports(conn, with_reservations, now)
    answer: list[tuple[ChargerAvailability, bytes]] = []
    for rendered in found:
        ports = reserved.get(rendered.charger.device_id)
        if not ports:
            answer.append((rendered.charger, rendered.json))
            continue
        charger = _with_reservations(rendered.charger, ports, scope, language)
        answer.append((charger, charger.__pydantic_serializer__.to_json(charger)))
    return answer


async def list_availability(
    conn: AsyncConnection, scope: Scope, now: datetime | None = None, language: str = DEFAULT
) -> list[ChargerAvailability]:
    """Every charger the user may see, port by port, with the ports reserved now; the
    ports' labels in ``language``."""
    found = await _availability(conn, scope, now or datetime.now(UTC), language)
    # Copies: the kept models must stay as their kept JSON says.
    return [charger.model_copy(deep=True) for charger, _ in found]


async def availability_json(
    conn: AsyncConnection, scope: Scope, now: datetime | None = None, language: str = DEFAULT
) -> bytes:
    """``list_availability`` as the JSON array the API answers with, from the kept parts."""
    found = await _availability(conn, scope, now or datetime.now(UTC), language)
    parts = [part for _, part in found]
    return b"[" + b",".join(parts) + b"]"
