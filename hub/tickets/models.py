"""Ticket states of the community workflow and the public shape of a ticket."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


class TicketStatus(StrEnum):
    """一号受理 → 一体派单 → 联动处置 → 督查督办, as states."""

    REGISTERED = "registered"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    IN_PROGRESS = "in_progress"
    EXTENSION_REQUESTED = "extension_requested"
    RESOLVED = "resolved"
    VERIFIED = "verified"
    CLOSED = "closed"
    RATED = "rated"


class TicketSource(StrEnum):
    DEVICE_ALERT = "device_alert"
    RESIDENT = "resident"
    STAFF = "staff"


class TicketLogEntry(BaseModel):
    at: datetime
    actor_id: int | None
    action: str
    from_status: TicketStatus | None
    to_status: TicketStatus | None
    note: str


class TicketPublic(BaseModel):
    id: int
    title: str
    category: str
    status: TicketStatus
    priority: str
    source: TicketSource
    alert_id: int | None
    community_id: int | None
    grid_id: int | None
    household_id: int | None
    resident_id: int | None
    assignee_id: int | None
    created_at: datetime
    updated_at: datetime
    response_due_at: datetime | None
    resolve_due_at: datetime | None
    log: list[TicketLogEntry] | None = None
