"""Community service tickets and their audit trail."""

from __future__ import annotations

import sqlalchemy as sa

from hub.schema.base import metadata
from hub.schema.types import UtcDateTime

tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),  # in the community's language
    sa.Column(
        "titles", sa.JSON(none_as_null=True)
    ),  # language → title; NULL on tickets made before 0011
    sa.Column("description", sa.String(2000), nullable=False, server_default=""),
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
    # 小事不出网格，大事不出社区: grid-level work, or raised to the community.
    sa.Column("level", sa.String(16), nullable=False, server_default="grid"),
    # Duress tickets: never shown to residents or on public screens.
    sa.Column("confidential", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("response_overdue_at", UtcDateTime),
    sa.Column("resolve_overdue_at", UtcDateTime),
    sa.Column("closed_at", UtcDateTime),
    sa.Column("rating", sa.Integer),
    # What an alarm ticket's alarm was (hub.tickets.models.Disposition), set on resolving.
    sa.Column("disposition", sa.String(16)),
    sa.Column("disposed_at", UtcDateTime),
    # Who reported it, when that is not a logged-in user (a grid QR code form).
    sa.Column("reporter_name", sa.String(100)),
    sa.Column("reporter_phone", sa.String(32)),
    sa.Column("reported_by", sa.ForeignKey("users.id")),
    sa.CheckConstraint("level IN ('grid', 'community')", name="level"),
    # Ticket lists: a community's tickets by status or level, newest first. With the
    # id last, the count reads the index alone and a page is read in order, not sorted.
    sa.Index("ix_tickets_community_status", "community_id", "status", "id"),
    sa.Index("ix_tickets_community_level", "community_id", "level", "id"),
    # False-alarm rates and repeats: an alert's disposition by the alert.
    sa.Index("ix_tickets_alert_disposition", "alert_id", "disposition"),
)

ticket_handlers = sa.Table(
    "ticket_handlers",
    metadata,
    sa.Column("ticket_id", sa.ForeignKey("tickets.id"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), primary_key=True, index=True),
    sa.Column("added_by", sa.ForeignKey("users.id")),
    sa.Column("added_at", UtcDateTime, nullable=False),
    sa.Column("note", sa.String(300), nullable=False, server_default=""),
)

escalations = sa.Table(
    "escalations",
    metadata,
    sa.Column("ticket_id", sa.ForeignKey("tickets.id"), primary_key=True),
    sa.Column("chain", sa.String(64), nullable=False),
    sa.Column("steps", sa.JSON, nullable=False),  # the chain as it was when the ticket opened
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # active | acknowledged | exhausted
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
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
    # The note as [[message id, {values}], ...] (a time as {"time": ISO 8601}), said in
    # each reader's language; NULL before 0012 and for notes kept in English only.
    sa.Column("said", sa.JSON, nullable=True),
)
