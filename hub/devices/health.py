"""A device's health as people filter and count it: low battery, faulted.

"Faulted" is what the dashboard counts and GET /api/v1/devices?faulted= filters on: an
active (open or acknowledged) alert of severity high or critical that the caller may
know about (hub.access.visibility.known_kinds: a property manager counts no elderly-care or
duress alarm), or a charger with a port (or the whole pile) out of order in its state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from device_adapters.model import DeviceFamily, Severity
from hub.chargers.models import Availability
from hub.chargers.service import availability_of
from hub.schema.alerts import AlertStatus, alerts
from hub.schema.devices import devices

LOW_BATTERY_PCT = 20  # a battery below this is low
FAULT_SEVERITIES = (Severity.HIGH, Severity.CRITICAL)
ACTIVE = (AlertStatus.OPEN.value, AlertStatus.ACKNOWLEDGED.value)


def faulted_alert(known: Sequence[ColumnElement[bool]]) -> ColumnElement[bool]:
    """The device has an active alert of a fault severity, among the ``known`` ones."""
    return sa.exists().where(
        alerts.c.device_id == devices.c.id,
        alerts.c.status.in_(ACTIVE),
        alerts.c.severity.in_([s.value for s in FAULT_SEVERITIES]),
        *known,
    )


def faulted(known: Sequence[ColumnElement[bool]], out_of_order: set[str]) -> ColumnElement[bool]:
    condition = faulted_alert(known)
    if out_of_order:
        condition = sa.or_(condition, devices.c.id.in_(sorted(out_of_order)))
    return condition


def charger_out_of_order(row: Any) -> bool:
    """A charger row (id, name, protocol, building_id, last_seen_at, state) with a port,
    or the whole pile, out of order."""
    state: dict[str, Any] = row.state or {}
    pile = state.get("pile")
    if isinstance(pile, dict) and pile.get("availability") == Availability.OUT_OF_ORDER.value:
        return True
    return any(p.availability is Availability.OUT_OF_ORDER for p in availability_of(row).ports)


async def out_of_order_among(
    conn: AsyncConnection, source: Any, *conditions: ColumnElement[bool]
) -> set[str]:
    """Chargers out of order among the devices of ``source`` matching ``conditions``.

    Read into Python: port states live in each charger's JSON state (a handful of
    chargers per community)."""
    rows = await conn.execute(
        sa.select(
            devices.c.id,
            devices.c.name,
            devices.c.protocol,
            devices.c.building_id,
            devices.c.last_seen_at,
            devices.c.state,
        )
        .select_from(source)
        .where(devices.c.family == DeviceFamily.CHARGER.value, *conditions)
    )
    return {row.id for row in rows if charger_out_of_order(row)}
