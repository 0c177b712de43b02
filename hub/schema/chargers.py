"""Reservations of a charging port by a resident, for a set time from now."""

from __future__ import annotations

import sqlalchemy as sa

from hub.schema.base import metadata
from hub.schema.types import UtcDateTime

charger_reservations = sa.Table(
    "charger_reservations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("device_id", sa.ForeignKey("devices.id"), nullable=False, index=True),
    sa.Column("port", sa.Integer, nullable=False),
    sa.Column("user_id", sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("starts_at", UtcDateTime, nullable=False),
    sa.Column("ends_at", UtcDateTime, nullable=False),
    # active | cancelled | expired (ended unused) | used (the car started charging)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("ended_at", UtcDateTime),
    sa.CheckConstraint(
        "status IN ('active', 'cancelled', 'expired', 'used')", name="reservation_status"
    ),
    sa.CheckConstraint("ends_at > starts_at", name="reservation_period"),
    # One active reservation per port, enforced by the database for concurrent requests.
    sa.Index(
        "ix_one_active_reservation_per_port",
        "device_id",
        "port",
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    ),
)
