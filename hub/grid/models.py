"""The public shape of the grid: street → community → grid → building → household.

The grid is read-only over the API (it is set up when a community joins), so there
are Public models only. Each row carries the ids of the levels above it, so a client
can place it without asking again.
"""

from __future__ import annotations

from pydantic import BaseModel


class CommunityPublic(BaseModel):
    id: int
    name: str
    street_id: int
    street: str
    timezone: str


class GridPublic(BaseModel):
    id: int
    community_id: int
    name: str


class BuildingPublic(BaseModel):
    id: int
    grid_id: int
    community_id: int
    name: str


class HouseholdPublic(BaseModel):
    """A household's address: who lives there is a resident question (GET /residents)."""

    id: int
    building_id: int
    grid_id: int
    community_id: int
    unit: str
    address: str
