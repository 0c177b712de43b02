"""What the hub knows of a device, as the API shows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from device_adapters.model import DeviceFamily


@dataclass(frozen=True)
class DeviceContext:
    """Where a device sits in the grid and whom it belongs to: what routing needs."""

    device_id: str
    family: str
    name: str
    resident_id: int | None
    household_id: int | None
    building_id: int | None
    grid_id: int | None
    community_id: int | None
    # A charger's ports (and "0", its pile) still faulted once the batch's events are
    # folded into its state: a fault alert is not cleared while one is left.
    faulted_parts: tuple[str, ...] = ()


class DevicePublic(BaseModel):
    id: str
    family: DeviceFamily
    protocol: str
    name: str
    registered: bool
    household_id: int | None
    resident_id: int | None
    building_id: int | None
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    # The gateway the device is bound to: only its reports are believed (docs/trust.md).
    # None until one reports it, or after an admin unbinds it.
    gateway_id: str | None = None
    last_gateway_id: str | None
    battery_pct: int | None
    state: dict[str, Any]
    online: bool | None = None
    # Words for people next to the codes, in the reader's language (hub.devices.words).
    online_label: str | None = None
    battery_label: str | None = None
    # The state in one line (hub.devices.state_words), times in the community's zone.
    state_label: str | None = None
    availability_reason: str | None = None
    # ``availability_reason`` in the reader's language (hub.devices.reasons).
    availability_reason_label: str | None = None
    availability_changed_at: datetime | None = None
