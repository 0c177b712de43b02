"""Alerts: one open alert per (device, kind); repeats attach to it."""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa

from hub.schema.base import metadata
from hub.schema.types import UtcDateTime


class AlertStatus(StrEnum):
    """The values of ``alerts.status``: the lifecycle every domain reads."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("device_id", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open | acknowledged | cleared
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("last_event_at", UtcDateTime, nullable=False),
    sa.Column("event_count", sa.Integer, nullable=False),
    sa.Column("acknowledged_at", UtcDateTime),
    sa.Column("cleared_at", UtcDateTime),
    sa.Column("summary", sa.String(300), nullable=False),  # in the community's language
    sa.Column(
        "titles", sa.JSON(none_as_null=True)
    ),  # language → summary; NULL on alerts made before 0011
    sa.Column("resident_id", sa.ForeignKey("residents.id"), index=True),
    sa.Column("household_id", sa.ForeignKey("households.id"), index=True),
    sa.Column("grid_id", sa.ForeignKey("grids.id"), index=True),
    sa.Column("latitude", sa.Float),
    sa.Column("longitude", sa.Float),
    # Duress alarms: never shown to residents or on public screens.
    sa.Column("silent", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("rule_id", sa.String(64)),
    sa.Column("acknowledged_by", sa.ForeignKey("users.id")),
    sa.Column("cleared_by", sa.ForeignKey("users.id")),  # NULL with cleared_at: by the device
    sa.Column("clear_reason", sa.String(200)),
    sa.CheckConstraint("status IN ('open', 'acknowledged', 'cleared')", name="status"),
    # The database itself guarantees one active alert per device and kind.
    sa.Index(
        "uq_alerts_active_device_kind",
        "device_id",
        "kind",
        unique=True,
        sqlite_where=sa.text("status != 'cleared'"),
        postgresql_where=sa.text("status != 'cleared'"),
    ),
)
