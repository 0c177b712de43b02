"""The device registry and each device's last known state."""

from __future__ import annotations

import sqlalchemy as sa

from hub.schema.base import metadata
from hub.schema.types import UtcDateTime

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),  # e.g. "watch:8800000015"
    sa.Column("family", sa.String(32), nullable=False),
    sa.Column("protocol", sa.String(32), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    # False for a device the hub heard from but nobody registered: shown to admins to adopt.
    sa.Column("registered", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("household_id", sa.ForeignKey("households.id"), index=True),
    sa.Column("resident_id", sa.ForeignKey("residents.id"), index=True),
    sa.Column("building_id", sa.ForeignKey("buildings.id"), index=True),
    sa.Column("first_seen_at", UtcDateTime),
    sa.Column("last_seen_at", UtcDateTime),
    sa.Column("last_gateway_id", sa.String(64)),
    # The gateway (or lock bridge's edge) this device is registered behind: only it may
    # speak for the device (hub/devices/sources.py). None: bound by the first to report it.
    sa.Column("gateway_id", sa.String(64), index=True),
    sa.Column("battery_pct", sa.Integer),
    sa.Column("state", sa.JSON, nullable=False, default=dict),
    # Reachability as the edge reports it (None: never reported).
    sa.Column("online", sa.Boolean),
    sa.Column("availability_reason", sa.String(64)),
    sa.Column("availability_changed_at", UtcDateTime),
    # One family's devices in id order (the chargers' availability list) without
    # reading every wristband and lock; ingest never changes either column.
    sa.Index("ix_devices_family", "family", "id"),
)
