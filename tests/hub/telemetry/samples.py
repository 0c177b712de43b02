"""Events as the adapters normalize them, for the telemetry tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from device_adapters.kinds import KINDS
from device_adapters.model import DeviceEvent, DeviceFamily, Scalar
from hub.devices.models import DeviceContext

NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)


def event(
    device_id: str,
    family: DeviceFamily,
    kind: str,
    values: dict[str, Scalar],
    at: datetime = NOW,
) -> DeviceEvent:
    info = KINDS[kind]
    return DeviceEvent(
        event_id=uuid.uuid4(),
        device_id=device_id,
        family=family,
        protocol="test",
        kind=kind,
        severity=info.severity,
        lane=info.lane,
        device_time=at,
        received_at=at,
        gateway_id="edge-1",
        values=values,
    )


def context(device_id: str, family: str, community_id: int | None) -> DeviceContext:
    return DeviceContext(
        device_id=device_id,
        family=family,
        name=device_id,
        resident_id=None,
        household_id=None,
        building_id=None,
        grid_id=None,
        community_id=community_id,
    )
