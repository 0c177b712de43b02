"""The duty rota's public shape, what staff write to it, who is on duty now, and the
volunteers of a community with the grids they serve."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

_MAX_ID = 2**63 - 1

Id = Annotated[StrictInt, Field(gt=0, le=_MAX_ID)]
Weekday = Annotated[StrictInt, Field(ge=0, le=6, description="0 = Monday; null = every day")]
StartMinute = Annotated[StrictInt, Field(ge=0, le=1439, description="minutes after local midnight")]
EndMinute = Annotated[
    StrictInt,
    Field(
        ge=0,
        le=1440,
        description="minutes after local midnight; at or before start_minute: runs past "
        "midnight into the next day; 1440: until midnight",
    ),
]


class Position(StrEnum):
    PRIMARY = "primary"  # gets the grid's alarms first
    BACKUP = "backup"  # gets them when the primary does not accept in time
    GRID_WORKER = "grid_worker"  # staff supervising the grid


def check_hours(start_minute: int, end_minute: int) -> str | None:
    """Why a line's hours make no sense, or None. Equal start and end would mean both
    "no time" and "all day"; all day is 0 to 1440."""
    if start_minute == end_minute:
        return "end_minute equals start_minute; for a whole day use 0 and 1440"
    return None


class RotaLinePublic(BaseModel):
    id: int
    grid_id: int
    community_id: int
    user_id: int
    full_name: str
    position: Position
    weekday: int | None
    start_minute: int
    end_minute: int


class RotaLineCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grid_id: Id = Field(description="a grid of your community")
    user_id: Id = Field(description="an active volunteer or staff member of the grid's community")
    position: Position
    weekday: Weekday | None = None
    start_minute: StartMinute
    end_minute: EndMinute

    @model_validator(mode="after")
    def _hours(self) -> RotaLineCreate:
        problem = check_hours(self.start_minute, self.end_minute)
        if problem:
            raise ValueError(problem)
        return self


class RotaLineUpdate(BaseModel):
    """Only the fields sent change; ``weekday`` may be set to null (every day)."""

    model_config = ConfigDict(extra="forbid")

    grid_id: Id | None = None
    user_id: Id | None = None
    position: Position | None = None
    weekday: Weekday | None = None
    start_minute: StartMinute | None = None
    end_minute: EndMinute | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> RotaLineUpdate:
        for field in ("grid_id", "user_id", "position", "start_minute", "end_minute"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} may not be null; leave it out to keep it")
        return self


class OnDutyPerson(BaseModel):
    user_id: int
    full_name: str
    phone: str | None


class OnDutyNow(BaseModel):
    """Who is on duty in a grid at ``at``, by position, in rota order."""

    grid_id: int
    at: datetime
    primary: list[OnDutyPerson]
    backup: list[OnDutyPerson]
    grid_worker: list[OnDutyPerson]


class VolunteerGrid(BaseModel):
    grid_id: int
    name: str
    positions: list[Position]


class VolunteerPublic(BaseModel):
    id: int
    username: str
    full_name: str
    phone: str | None
    community_id: int | None
    grids: list[VolunteerGrid] = Field(description="the grids they are on the rota for")
