"""Ticket states of the community workflow and the public shape of a ticket."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints


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


class TicketAction(StrEnum):
    """What people do to a ticket; hub.tickets.workflow says from where and who."""

    DISPATCH = "dispatch"
    ACCEPT = "accept"
    RETURN = "return"
    START = "start"
    REQUEST_EXTENSION = "request_extension"
    GRANT_EXTENSION = "grant_extension"
    REFUSE_EXTENSION = "refuse_extension"
    RESOLVE = "resolve"
    VERIFY = "verify"
    REOPEN = "reopen"
    CLOSE = "close"
    RATE = "rate"


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
    # The actions the caller may take now (set on single-ticket answers).
    actions: list[TicketAction] | None = None


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class TransitionInputs(BaseModel):
    """What an action may carry; which fields an action needs is in the workflow table."""

    model_config = ConfigDict(extra="forbid")

    reason: Text | None = Field(
        None, description="why: required to return, reopen, request or refuse an extension"
    )
    note: Text | None = Field(
        None, description="what was found or done: required to start (on-site check) and resolve"
    )
    assignee_id: int | None = Field(
        None, gt=0, description="the volunteer to dispatch to: required to dispatch"
    )
    new_due_at: AwareDatetime | None = Field(
        None, description="the new resolve-by time, with a UTC offset: required to grant"
    )
    score: int | None = Field(None, ge=1, le=5, description="1 (poor) to 5: required to rate")


class TicketTransitionRequest(TransitionInputs):
    action: TicketAction
