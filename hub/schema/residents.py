"""Residents of households, with the elderly living alone flagged, and their family contacts."""

from __future__ import annotations

import sqlalchemy as sa

from hub.schema.base import metadata
from hub.schema.types import UtcDateTime

residents = sa.Table(
    "residents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("household_id", sa.ForeignKey("households.id"), nullable=False, index=True),
    sa.Column("full_name", sa.String(100), nullable=False),
    sa.Column("phone", sa.String(32)),
    sa.Column("birth_year", sa.Integer),
    sa.Column("is_elderly", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("lives_alone", sa.Boolean, nullable=False, server_default=sa.false()),
)

family_contacts = sa.Table(
    "family_contacts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("resident_id", sa.ForeignKey("residents.id"), nullable=False, index=True),
    sa.Column("full_name", sa.String(100), nullable=False),
    sa.Column("relation", sa.String(32), nullable=False),
    sa.Column("phone", sa.String(32), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False, server_default="1"),
)

# Cards and person numbers a door gate reports, so a gate pass is a sign of life.
access_credentials = sa.Table(
    "access_credentials",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("resident_id", sa.ForeignKey("residents.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # card_no | employee_no
    sa.Column("value", sa.String(64), nullable=False),
    sa.UniqueConstraint("kind", "value", name="one_owner"),
    sa.CheckConstraint("kind IN ('card_no', 'employee_no')", name="kind"),
)

# The last signs of life of a resident, for the welfare check of the elderly living alone.
resident_activity = sa.Table(
    "resident_activity",
    metadata,
    sa.Column("resident_id", sa.ForeignKey("residents.id"), primary_key=True),
    sa.Column("last_door_at", UtcDateTime),
    sa.Column("last_movement_at", UtcDateTime),
    sa.Column("last_steps", sa.Integer),
    sa.Column("last_steps_device", sa.String(128)),
)
