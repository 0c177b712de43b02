"""Input that could not be used, kept with its raw bytes and the reason, for an admin to inspect."""

from __future__ import annotations

import sqlalchemy as sa

from hub.schema.base import metadata
from hub.schema.types import UtcDateTime

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("received_at", UtcDateTime, nullable=False, index=True),
    sa.Column("stored_at", UtcDateTime, nullable=False),
    sa.Column("gateway_id", sa.String(64), nullable=False),
    sa.Column("source", sa.String(256), nullable=False),
    sa.Column("protocol", sa.String(32), nullable=False),
    sa.Column("device_id", sa.String(128), index=True),
    sa.Column("reason", sa.String(1000), nullable=False),
    sa.Column("raw", sa.LargeBinary, nullable=False),
)
