"""Residents and their family contacts: what each role may see of them, and what staff
may write.

A caller gets one of three views of a resident, told apart by ``view``:

* ``record`` (admins, community staff): everything, incl. birth year, the elderly and
  living-alone flags and, on a single resident, the last signs of life;
* ``contact`` (volunteers for the elderly of their grids, residents for their own
  household): name, phone, address and, on a single resident, the family contacts;
* ``listing`` (property managers): name and address, to arrange repairs with a
  household; nothing about age, health, living alone or family.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)

# The largest id a database row can have (a signed 64-bit integer).
_MAX_ID = 2**63 - 1
_PHONE_CHARS = re.compile(r"^\+?[0-9][0-9 -]*$")
_EARLIEST_BIRTH_YEAR = 1900


class ResidentView(StrEnum):
    RECORD = "record"
    CONTACT = "contact"
    LISTING = "listing"


def _phone(value: str) -> str:
    digits = sum(c.isdigit() for c in value)
    if not _PHONE_CHARS.match(value) or not 6 <= digits <= 20:
        raise ValueError(
            "a phone number is 6 to 20 digits, optionally starting with + "
            "(spaces and dashes allowed)"
        )
    return value


def _birth_year(value: int) -> int:
    this_year = datetime.now(UTC).year
    if value > this_year:
        raise ValueError(f"a birth year is between {_EARLIEST_BIRTH_YEAR} and {this_year}")
    return value


def _printable(value: str) -> str:
    # Control characters in a name are a typing or encoding accident, never a name.
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("control characters are not allowed")
    return value


Id = Annotated[StrictInt, Field(gt=0, le=_MAX_ID)]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_printable),
]
Relation = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32),
    AfterValidator(_printable),
]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=32), AfterValidator(_phone)
]
BirthYear = Annotated[
    StrictInt,
    Field(ge=_EARLIEST_BIRTH_YEAR, description="from 1900 to the current year"),
    AfterValidator(_birth_year),
]
Priority = Annotated[
    StrictInt, Field(ge=1, le=9, description="1 is called first; ties by when added")
]


# --- What callers see.


class FamilyContactPublic(BaseModel):
    id: int
    resident_id: int
    full_name: str
    relation: str
    phone: str
    priority: int


class ActivityPublic(BaseModel):
    """A resident's last signs of life (door passes, lock use, wristband steps)."""

    last_door_at: datetime | None = None
    last_movement_at: datetime | None = None
    last_steps: int | None = None


class _Place(BaseModel):
    id: int
    full_name: str
    household_id: int
    building_id: int
    grid_id: int
    unit: str
    address: str


class ResidentListing(_Place):
    """Property managers: who lives where, to arrange a repair with the household."""

    view: Literal["listing"] = "listing"


class ResidentContact(_Place):
    """Volunteers (the elderly of their grids) and residents (their own household): how to
    reach the person and their family. No birth year, flags, health or activity."""

    view: Literal["contact"] = "contact"
    phone: str | None
    contacts: list[FamilyContactPublic] | None = Field(
        None, description="set on GET /residents/{id}"
    )


class ResidentRecord(_Place):
    """Admins and community staff: the whole record."""

    view: Literal["record"] = "record"
    community_id: int
    phone: str | None
    birth_year: int | None
    is_elderly: bool
    lives_alone: bool
    contacts: list[FamilyContactPublic] | None = Field(
        None, description="set on GET /residents/{id}"
    )
    activity: ActivityPublic | None = Field(None, description="set on GET /residents/{id}")


ResidentPublic = Annotated[
    ResidentRecord | ResidentContact | ResidentListing, Field(discriminator="view")
]


# --- What staff write.


class ResidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    household_id: Id = Field(description="a household of your community")
    full_name: Name
    phone: Phone | None = None
    birth_year: BirthYear | None = None
    is_elderly: StrictBool = False
    lives_alone: StrictBool = False


def _refuse_null(model: BaseModel, fields: tuple[str, ...]) -> None:
    for field in fields:
        if field in model.model_fields_set and getattr(model, field) is None:
            raise ValueError(f"{field} may not be null; leave it out to keep it")


class ResidentUpdate(BaseModel):
    """Only the fields sent change; ``phone`` and ``birth_year`` may be set to null."""

    model_config = ConfigDict(extra="forbid")

    household_id: Id | None = Field(None, description="move to a household of your community")
    full_name: Name | None = None
    phone: Phone | None = None
    birth_year: BirthYear | None = None
    is_elderly: StrictBool | None = None
    lives_alone: StrictBool | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> ResidentUpdate:
        _refuse_null(self, ("household_id", "full_name", "is_elderly", "lives_alone"))
        return self


class FamilyContactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: Name
    relation: Relation = Field(description="as written, e.g. 女儿, 儿子, 配偶, 邻居")
    phone: Phone
    priority: Priority = 1


class FamilyContactUpdate(BaseModel):
    """Only the fields sent change; none may be null."""

    model_config = ConfigDict(extra="forbid")

    full_name: Name | None = None
    relation: Relation | None = None
    phone: Phone | None = None
    priority: Priority | None = None

    @model_validator(mode="after")
    def _none_null(self) -> FamilyContactUpdate:
        _refuse_null(self, ("full_name", "relation", "phone", "priority"))
        return self
