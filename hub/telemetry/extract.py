"""Which events carry which measurements: the event vocabulary mapped onto the fixed schema.

Schema (docs/telemetry.md; Grafana dashboards depend on it, change it only with them):

- ``vitals``: heart_rate, systolic, diastolic, spo2; tags device_id, community_id
- ``battery``: percent; tags device_id, family, community_id
- ``charger``: power_w, energy_wh; tags device_id, port, community_id
- ``gate_passes``: count; tags device_id, community_id, direction (when the event says)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from device_adapters.model import DeviceEvent, Scalar
from hub.devices.models import DeviceContext
from hub.telemetry.models import TelemetryPoint

# Event value -> vitals field. Body temperature (wristband.temperature, body_temp_c)
# has no place in the fixed schema and is not exported.
_VITALS = {
    "heart_rate_bpm": "heart_rate",
    "systolic_mmhg": "systolic",
    "diastolic_mmhg": "diastolic",
    "spo2_pct": "spo2",
}
_VITAL_KINDS = frozenset({"wristband.heart_rate", "wristband.blood_pressure", "wristband.spo2"})
# Kinds with a power or energy reading for one port (e-bike piles report power in
# charger.port_status, OCPP chargers both in charger.meter).
_CHARGER_KINDS = frozenset({"charger.meter", "charger.port_status"})
_CHARGER = {"power_w": "power_w", "energy_wh": "energy_wh"}
# A pass through a gate: a card, face or code the gate accepted.
_PASS_KINDS = frozenset({"door.access_granted"})
_DIRECTIONS = frozenset({"in", "out"})


def _number(value: Scalar) -> float | None:
    # bool is an int in Python, but a flag is not a measurement.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _fields(
    values: Mapping[str, Scalar], names: Mapping[str, str]
) -> tuple[tuple[str, float], ...]:
    found = []
    for source, field in names.items():
        number = _number(values.get(source))
        if number is not None:
            found.append((field, number))
    return tuple(found)


def event_time(event: DeviceEvent) -> datetime:
    """The event's own time: the device's clock when it gave one, else when the edge heard it."""
    return event.device_time or event.received_at


def points_of(event: DeviceEvent, community_id: int | None) -> list[TelemetryPoint]:
    def point(
        measurement: str, tags: tuple[tuple[str, str], ...], fields: tuple[tuple[str, float], ...]
    ) -> TelemetryPoint:
        return TelemetryPoint(
            measurement, event.device_id, community_id, tags, fields, event_time(event)
        )

    values = event.values
    points: list[TelemetryPoint] = []
    if event.kind in _VITAL_KINDS and (vitals := _fields(values, _VITALS)):
        points.append(point("vitals", (), vitals))
    battery = _number(values.get("battery_pct"))
    if battery is not None:
        points.append(point("battery", (("family", event.family.value),), (("percent", battery),)))
    if event.kind in _CHARGER_KINDS and (charger := _fields(values, _CHARGER)):
        port = _number(values.get("port"))
        # Port 0 is the whole pile (OCPP connector 0, e-bike "whole pile").
        port_tag = str(int(port)) if port is not None else "0"
        points.append(point("charger", (("port", port_tag),), charger))
    if event.kind in _PASS_KINDS:
        direction = values.get("direction")
        known = isinstance(direction, str) and direction in _DIRECTIONS
        pass_tags: tuple[tuple[str, str], ...] = (("direction", str(direction)),) if known else ()
        points.append(point("gate_passes", pass_tags, (("count", 1.0),)))
    return points


def extract(
    events: Iterable[DeviceEvent], contexts: Mapping[str, DeviceContext]
) -> list[TelemetryPoint]:
    """Every point the events carry, with each device's community from ``contexts``."""
    points: list[TelemetryPoint] = []
    for event in events:
        context = contexts.get(event.device_id)
        points += points_of(event, context.community_id if context else None)
    return points
