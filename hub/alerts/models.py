"""Alert lifecycle states and the public shape of an alert."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from device_adapters.model import Severity
from hub.schema.alerts import AlertStatus


class AlertPublic(BaseModel):
    id: int
    device_id: str
    kind: str
    # Words for people next to the codes, in the reader's language (hub.devices.words).
    kind_label: str | None = None
    severity: Severity
    severity_label: str | None = None
    status: AlertStatus
    summary: str
    opened_at: datetime
    last_event_at: datetime
    event_count: int
    acknowledged_at: datetime | None
    cleared_at: datetime | None
    resident_id: int | None
    household_id: int | None
    grid_id: int | None
    latitude: float | None
    longitude: float | None
    silent: bool = False
    rule_id: str | None = None
    acknowledged_by: int | None = None
    cleared_by: int | None = None
    clear_reason: str | None = None
    ticket_id: int | None = None
