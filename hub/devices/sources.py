"""Who may speak for which device: a device belongs to the gateway it is registered behind.

Any account on the broker is a possible forger (docs/trust.md). The broker's ACL
confines a gateway to its own topics, and the hub checks that a message's topic
and payload agree (hub/ingest/trust.py); this module adds what needs the
registry: an event or availability report for a device is believed only from
the gateway the device is bound to (``devices.gateway_id``).

Binding:
- registration may name the gateway (``register_device(gateway_id=...)``);
- a device registered without one, or never registered, is bound to the first
  gateway that reports it (trust on first use), in the same transaction that
  stores that report;
- moving a device to another gateway is an admin's act
  (``PUT /api/v1/devices/{id}/gateway``, :func:`move_device`); until then the new
  gateway's reports are refused and kept as dead letters with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import DeviceAvailability, DeviceEvent
from hub.schema.devices import devices

_CHUNK = 500


@dataclass(frozen=True)
class Refused:
    """A report the hub did not believe, and why."""

    item: DeviceEvent | DeviceAvailability
    reason: str


async def _bindings(conn: AsyncConnection, device_ids: set[str]) -> dict[str, str | None]:
    """device id -> bound gateway (None: known but unbound); unknown devices are absent."""
    found: dict[str, str | None] = {}
    ids = sorted(device_ids)
    for start in range(0, len(ids), _CHUNK):
        rows = await conn.execute(
            sa.select(devices.c.id, devices.c.gateway_id).where(
                devices.c.id.in_(ids[start : start + _CHUNK])
            )
        )
        found.update({row.id: row.gateway_id for row in rows})
    return found


def _foreign(device_id: str, bound: str, sender: str) -> str:
    return (
        f"device {device_id} is registered behind gateway {bound!r}; "
        f"gateway {sender!r} may not speak for it"
    )


async def admit_events(
    conn: AsyncConnection, events: Sequence[DeviceEvent]
) -> tuple[list[DeviceEvent], list[Refused]]:
    """Split ``events`` into those their device's gateway sent and those it did not.

    Unbound devices already in the registry are bound here to the gateway of
    their first event in the batch; new devices are bound when they are added
    (``apply_events``), with the same gateway.
    """
    if not events:
        return [], []
    bound = await _bindings(conn, {e.device_id for e in events})
    claimed: dict[str, str] = {}  # unbound or new devices: their first sender in this batch
    admitted: list[DeviceEvent] = []
    refused: list[Refused] = []
    for event in events:
        gateway = bound.get(event.device_id) or claimed.setdefault(
            event.device_id, event.gateway_id
        )
        if gateway == event.gateway_id:
            admitted.append(event)
        else:
            refused.append(Refused(event, _foreign(event.device_id, gateway, event.gateway_id)))
    to_bind = {d: g for d, g in claimed.items() if d in bound}
    for device_id, gateway in sorted(to_bind.items()):
        await conn.execute(
            devices.update()
            .where(devices.c.id == device_id, devices.c.gateway_id.is_(None))
            .values(gateway_id=gateway)
        )
    return admitted, refused


async def admit_availability(
    conn: AsyncConnection, reports: Sequence[DeviceAvailability]
) -> tuple[list[DeviceAvailability], list[Refused]]:
    """Reports from a gateway other than the device's own are refused.

    A report never binds a device: reachability alone does not say who owns it.
    """
    if not reports:
        return [], []
    bound = await _bindings(conn, {r.device_id for r in reports})
    admitted: list[DeviceAvailability] = []
    refused: list[Refused] = []
    for report in reports:
        gateway = bound.get(report.device_id)
        if gateway is None or gateway == report.gateway_id:
            admitted.append(report)
        else:
            refused.append(Refused(report, _foreign(report.device_id, gateway, report.gateway_id)))
    return admitted, refused


async def move_device(conn: AsyncConnection, device_id: str, gateway_id: str | None) -> bool:
    """Bind a device to another gateway (None: the next gateway to report it).

    Returns False if there is no such device.
    """
    result = await conn.execute(
        devices.update().where(devices.c.id == device_id).values(gateway_id=gateway_id)
    )
    return bool(result.rowcount)
