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
    summary: str  # in the reader's language where it was made in every one
    # Machines: the summary in every language (absent on alerts made before 0011).
    titles: dict[str, str] | None = None
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

    def for_reader(self, language: str) -> AlertPublic:
        """This alert with its ``summary`` in ``language`` where it was kept in it."""
        summary = (self.titles or {}).get(language)
        return self.model_copy(update={"summary": summary}) if summary else self
