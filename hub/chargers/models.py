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
    status: str | None = None
    power_w: float | None = None
    updated_at: datetime | None = None


class ChargerAvailability(BaseModel):
    device_id: str
    name: str
    protocol: str
    building_id: int | None
    last_seen_at: datetime | None
    ports: list[PortAvailability]
    summary: dict[Availability, int]
