"""Build DeviceEvents for one frame: severity and lane always come from the vocabulary."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from device_adapters.kinds import KINDS
from device_adapters.model import DeviceEvent, DeviceFamily, Scalar


@dataclass(frozen=True)
class EventFactory:
    """Everything a frame's events share; ``make`` adds what differs per event."""

    device_id: str
    family: DeviceFamily
    protocol: str
    received_at: datetime
    gateway_id: str
    raw: bytes
    new_id: Callable[[], UUID]

    def make(
        self, kind: str, values: Mapping[str, Scalar], device_time: datetime | None = None
    ) -> DeviceEvent:
        info = KINDS[kind]
        return DeviceEvent(
            event_id=self.new_id(),
            device_id=self.device_id,
            family=self.family,
            protocol=self.protocol,
            kind=kind,
            severity=info.severity,
            lane=info.lane,
            device_time=device_time,
            received_at=self.received_at,
            gateway_id=self.gateway_id,
            # What a frame did not say is absent, not null.
            values={k: v for k, v in values.items() if v is not None},
            raw=self.raw,
        )
