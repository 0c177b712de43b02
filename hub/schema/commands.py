"""Device commands: each one is also its own audit record (who, when, what, why, result)."""

from __future__ import annotations

import sqlalchemy as sa

from hub.schema.base import metadata
from hub.schema.types import UtcDateTime

device_commands = sa.Table(
    "device_commands",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("device_id", sa.String(128), nullable=False, index=True),
    sa.Column("gateway_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("issued_by", sa.ForeignKey("users.id"), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("sent_at", UtcDateTime),
    sa.Column("result_at", UtcDateTime),
    sa.Column("detail", sa.String(500), nullable=False, server_default=""),
)
