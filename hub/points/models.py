"""The public shape of points: ledger entries, a person's balance, a leaderboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from hub.users.models import Role


class AwardReason(StrEnum):
    """Why points were given; one award of each reason per person and ticket."""

    CLOSURE = "closure"  # the assignee, when the ticket is closed after verification
    CO_HANDLING = "co_handling"  # each co-handler, at the same moment
    RATING = "rating"  # the assignee, a bonus for the resident's score
    ADJUSTMENT = "adjustment"  # by hand (reserved: no endpoint writes it yet)


@dataclass(frozen=True)
class Award:
    """Points owed to someone for a ticket; written to the ledger at most once."""

    user_id: int
    points: int
    reason: AwardReason

    def describe(self) -> str:
        return f"+{self.points} points to user {self.user_id} ({self.reason.value})"


class PointsEntry(BaseModel):
    """One row of the ledger."""

    ticket_id: int | None
    ticket_title: str | None
    reason: AwardReason
    points: int
    note: str
    at: datetime


class PointsHistory(BaseModel):
    items: list[PointsEntry]
    total: int
    limit: int
    offset: int


class PointsAccount(BaseModel):
    """A person's points: the balance is always the sum of their ledger entries."""

    user_id: int
    full_name: str
    role: Role
    community_id: int | None
    balance: int = Field(description="the sum of every ledger entry")
    history: PointsHistory = Field(description="ledger entries, newest first")


class LeaderboardRow(BaseModel):
    rank: int = Field(description="1 for the most points; ties share a rank")
    user_id: int
    full_name: str
    role: Role
    points: int
    awards: int = Field(description="ledger entries counted")


class Leaderboard(BaseModel):
    community_id: int | None = Field(description="None: every community (admins only)")
    since: datetime | None
    rows: list[LeaderboardRow]
