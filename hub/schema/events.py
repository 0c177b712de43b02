"""Every device event the hub accepted, keyed by the edge-assigned event id."""

from __future__ import annotations

import sqlalchemy as sa

from hub.schema.base import metadata
from hub.schema.types import UtcDateTime

events = sa.Table(
    "events",
    metadata,
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("device_id", sa.String(128), nullable=False),
    sa.Column("family", sa.String(32), nullable=False),
    sa.Column("protocol", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("lane", sa.String(16), nullable=False),
    sa.Column("device_time", UtcDateTime),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("stored_at", UtcDateTime, nullable=False),
    sa.Column("gateway_id", sa.String(64), nullable=False),
    sa.Column("values", sa.JSON, nullable=False),
    sa.Column("raw", sa.LargeBinary, nullable=False),
    sa.Column("alert_id", sa.ForeignKey("alerts.id"), index=True),
    sa.Index("ix_events_device_received", "device_id", "received_at"),
)
