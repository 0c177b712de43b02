"""Stored timers: everything the hub must do later survives a restart and fires once.

A timer's ``key`` is unique, so scheduling the same thing twice is a no-op, and
firing claims the row (``fired_at IS NULL``) in the same transaction as the
work it triggers, so two hub processes never both act on it.
"""

from __future__ import annotations

import sqlalchemy as sa

from hub.schema.base import metadata
from hub.schema.types import UtcDateTime

timers = sa.Table(
    "timers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(200), nullable=False, unique=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False, index=True),
    sa.Column("payload", sa.JSON, nullable=False, default=dict),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("fired_at", UtcDateTime),
    sa.Column("fired_by", sa.String(64)),
    sa.Column("cancelled_at", UtcDateTime),
    sa.Column("outcome", sa.String(300), nullable=False, server_default=""),
)
