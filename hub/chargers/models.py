"""Charging availability in the five statuses residents understand."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


class Availability(StrEnum):
    AVAILABLE = "available"
    CHARGING = "charging"
    RESERVED = "reserved"
    OUT_OF_ORDER = "out_of_order"
    UNKNOWN = "unknown"


class PortAvailability(BaseModel):
    port: int
    availability: Availability
    # ``availability`` as residents read it (空闲, 充电中, 已预约, 故障, 离线).
    availability_label: str | None = None
    status: str | None = None
    power_w: float | None = None
    updated_at: datetime | None = None
    # Only on a port reserved by the caller; anyone else sees just ``reserved``.
    reserved_by_me: bool | None = None
    reserved_until: datetime | None = None


class ChargerAvailability(BaseModel):
    device_id: str
    name: str
    protocol: str
    building_id: int | None
    last_seen_at: datetime | None
    ports: list[PortAvailability]
    summary: dict[Availability, int]
    summary_labels: dict[Availability, str] | None = None


class ReservationStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"  # by its owner
    EXPIRED = "expired"  # its time ran out before the port was used
    USED = "used"  # the port started charging while it was held


class Reservation(BaseModel):
    """A resident's hold on one charging port, as its owner sees it."""

    id: int
    device_id: str
    charger_name: str
    port: int
    status: ReservationStatus
    # ``status`` as its owner reads it (进行中, 已取消, 已过期, 已使用).
    status_label: str | None = None
    starts_at: datetime
    ends_at: datetime
    created_at: datetime
    ended_at: datetime | None = None
