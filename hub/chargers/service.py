"""Charger availability per port, for everyone in the community (residents included)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import DeviceFamily
from hub.chargers.models import Availability, ChargerAvailability, PortAvailability
from hub.devices.tables import devices
from hub.grid.tables import buildings, grids
from hub.users.scope import Scope, nothing


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
    summary = {a: sum(1 for p in ports if p.availability is a) for a in Availability}
    return ChargerAvailability(
        device_id=row.id,
        name=row.name,
        protocol=row.protocol,
        building_id=row.building_id,
        last_seen_at=row.last_seen_at,
        ports=ports,
        summary=summary,
    )


async def list_availability(conn: AsyncConnection, scope: Scope) -> list[ChargerAvailability]:
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
    return [availability_of(row) for row in await conn.execute(query)]
