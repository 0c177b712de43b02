"""The points ledger: one row per award; a balance is always a sum."""

from __future__ import annotations

import sqlalchemy as sa

from hub.schema.base import metadata
from hub.schema.types import UtcDateTime

points_ledger = sa.Table(
    "points_ledger",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("ticket_id", sa.ForeignKey("tickets.id"), index=True),
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column(
        "reason", sa.String(32), nullable=False
    ),  # closure | co_handling | rating | adjustment
    sa.Column("note", sa.String(300), nullable=False, server_default=""),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.ForeignKey("users.id")),  # NULL: awarded by the hub
    # One award of a kind per person and ticket: a retried request cannot pay twice.
    sa.UniqueConstraint("user_id", "ticket_id", "reason", name="one_award_per_reason"),
)
