"""Residents of households, with the elderly living alone flagged, and their family contacts."""

from __future__ import annotations

import sqlalchemy as sa

from hub.storage.metadata import metadata

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
