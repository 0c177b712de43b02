"""Ticket states of the community workflow and the public shape of a ticket."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from hub.i18n.catalogs import N_


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


class Disposition(StrEnum):
    """What an alarm turned out to be, recorded when its ticket is resolved."""

    GENUINE = "genuine"  # 真实报警
    FALSE_ALARM = "false_alarm"  # 误报: the device raised it by itself
    ACCIDENTAL = "accidental"  # 误按: pressed by mistake
    TEST = "test"  # 测试
    DEVICE_FAULT = "device_fault"  # 设备故障


# What counts against a device or a wearer in the false-alarm rate.
FALSE_DISPOSITIONS = frozenset({Disposition.FALSE_ALARM, Disposition.ACCIDENTAL})


class TicketLevel(StrEnum):
    """小事不出网格，大事不出社区: handled in the grid, or raised to the community."""

    GRID = "grid"
    COMMUNITY = "community"


# States in which a ticket's work is over: no co-handlers join or leave, no raising.
FINISHED = frozenset({TicketStatus.CLOSED, TicketStatus.RATED})
# The states in which each time limit runs (as hub.tickets.limits arms and checks them).
RESPONDING = frozenset({TicketStatus.REGISTERED, TicketStatus.DISPATCHED, TicketStatus.RETURNED})
RESOLVING = RESPONDING | {
    TicketStatus.ACCEPTED,
    TicketStatus.IN_PROGRESS,
    TicketStatus.EXTENSION_REQUESTED,
}


class TicketLogEntry(BaseModel):
    at: datetime
    actor_id: int | None
    action: str
    from_status: TicketStatus | None
    to_status: TicketStatus | None
    note: str = Field(description="in English, for machines and older clients")
    said: list[Any] | None = Field(default=None, exclude=True)  # the note's message ids
    # The step and the state it led to as a person reads them, in the reader's language.
    note_label: str | None = Field(
        default=None, description="the note in the reader's language, times local"
    )
    action_label: str | None = None
    to_status_label: str | None = None


class CoHandler(BaseModel):
    """Someone handling a ticket jointly with its assignee (联动处置)."""

    user_id: int
    full_name: str
    note: str
    added_at: datetime


class InputKind(StrEnum):
    """What a person gives for an action's input, so a page knows which field to show."""

    TEXT = "text"  # free text up to max_length (a reason, a note)
    USER = "user"  # a user's id (the volunteer to dispatch to)
    FUTURE_TIME = "future_time"  # a date and time after now, with a UTC offset
    SCORE = "score"  # a whole number from minimum to maximum
    CHOICE = "choice"  # one of ``choices``' values (a select or radio buttons)


class InputChoice(BaseModel):
    value: str
    label: str | None = Field(None, description="the value in the reader's language")


class ActionInput(BaseModel):
    name: str = Field(description="the transition request's field")
    kind: InputKind
    required: bool = True
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    # kind "choice": the values to choose from, in the order to show them, and what
    # the field asks, in the reader's language.
    choices: list[InputChoice] | None = None
    label: str | None = None


class ActionOffer(BaseModel):
    """An action the caller may take now, the state it leads to and the inputs it needs."""

    action: TicketAction
    target: TicketStatus
    inputs: list[ActionInput]
    # The action and its target as a person reads them, in the reader's language.
    label: str | None = None
    target_label: str | None = None


class TicketPublic(BaseModel):
    id: int
    title: str = Field(description="in the reader's language where it was made in every one")
    # Machines: the title in every language (absent on tickets made before 0011, and on
    # those whose title is a person's own words).
    titles: dict[str, str] | None = None
    description: str = ""
    category: str
    category_label: str | None = Field(None, description="the category in the reader's language")
    status: TicketStatus
    # ``status`` as a person reads it, in the reader's language (已派单 / Dispatched).
    status_label: str | None = None
    priority: str
    priority_label: str | None = Field(
        None, description="the priority in the reader's language (一般 / Normal)"
    )
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
    level: TicketLevel = TicketLevel.GRID
    confidential: bool = False
    closed_at: datetime | None = None
    rating: int | None = None
    # What the alarm turned out to be (alarm tickets, from their resolution on).
    disposition: Disposition | None = None
    disposition_label: str | None = Field(
        None, description="the disposition in the reader's language"
    )
    # Who reported it: a name and phone from a grid QR code form, or a logged-in user.
    reporter_name: str | None = None
    reporter_phone: str | None = None
    reported_by: int | None = None
    log: list[TicketLogEntry] | None = None
    # The people handling it with the assignee (set on single-ticket answers).
    co_handlers: list[CoHandler] | None = None
    # The actions the caller may take now (set on single-ticket answers).
    actions: list[TicketAction] | None = None
    # The same actions with what each leads to and the inputs it needs, so a page can
    # offer them without a copy of the workflow (hub.tickets.workflow).
    action_details: list[ActionOffer] | None = None


TEXT_MAX = 500  # a reason or a note
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TEXT_MAX)]


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
    disposition: Disposition | None = Field(
        None,
        description="what the alarm was: required to resolve a ticket opened from an alarm, "
        "refused otherwise",
    )


class TicketTransitionRequest(TransitionInputs):
    action: TicketAction


class CoHandlerAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: int = Field(gt=0, description="an active volunteer, staff member or property manager")
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = Field(
        "", description="what they are asked to do"
    )


class RaiseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(description="why the grid cannot handle it alone")


Description = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
CategoryName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=48)]


class TicketCreate(BaseModel):
    """A ticket taken in by staff (any category, any grid of their community) or by a
    resident (a resident-facing category; grid and household are their own)."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description
    category: CategoryName | None = Field(
        None, description="one of the community's categories; residents: default resident_report"
    )
    grid_id: int | None = Field(None, gt=0, description="staff: required; residents: leave out")
    household_id: int | None = Field(
        None, gt=0, description="staff: optional, a household in the grid; residents: leave out"
    )


_PHONE_CHARS = re.compile(r"^\+?[0-9][0-9 -]*$")


class ReportForm(BaseModel):
    """What the grid QR code's public form sends."""

    model_config = ConfigDict(extra="forbid")

    reporter_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ]
    reporter_phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]
    category: CategoryName = "resident_report"
    description: Description

    @field_validator("reporter_phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        digits = sum(c.isdigit() for c in value)
        if not _PHONE_CHARS.match(value) or not 6 <= digits <= 20:
            # The message id: the form says it in the reader's language.
            raise ValueError(
                N_(
                    "a phone number is 6 to 20 digits, optionally starting with + "
                    "(spaces and dashes allowed)"
                )
            )
        return value
