"""Roles and the public shape of a user."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class Role(StrEnum):
    ADMIN = "admin"
    PROPERTY_MANAGER = "property_manager"
    COMMUNITY_STAFF = "community_staff"
    VOLUNTEER = "volunteer"
    RESIDENT = "resident"


class UserPublic(BaseModel):
    id: int
    username: str
    full_name: str
    role: Role
    phone: str | None = None
    community_id: int | None = None
    resident_id: int | None = None
    locale: str | None = None
