"""Community service tickets and their audit trail."""

from __future__ import annotations

import sqlalchemy as sa

from hub.storage.metadata import metadata
from hub.storage.types import UtcDateTime

tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("priority", sa.String(16), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # device_alert | resident | staff
    sa.Column("alert_id", sa.ForeignKey("alerts.id"), index=True),
    sa.Column("community_id", sa.ForeignKey("communities.id"), index=True),
    sa.Column("grid_id", sa.ForeignKey("grids.id"), index=True),
    sa.Column("household_id", sa.ForeignKey("households.id"), index=True),
    sa.Column("resident_id", sa.ForeignKey("residents.id"), index=True),
    sa.Column("assignee_id", sa.ForeignKey("users.id"), index=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("response_due_at", UtcDateTime),
    sa.Column("resolve_due_at", UtcDateTime),
)

ticket_log = sa.Table(
    "ticket_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("ticket_id", sa.ForeignKey("tickets.id"), nullable=False, index=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor_id", sa.ForeignKey("users.id")),  # NULL: the hub itself
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("from_status", sa.String(32)),
    sa.Column("to_status", sa.String(32)),
    sa.Column("note", sa.String(1000), nullable=False, server_default=""),
)
