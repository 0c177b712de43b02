"""The community grid: street → community → grid → building → household."""

from __future__ import annotations

import sqlalchemy as sa

from hub.schema.base import metadata

streets = sa.Table(
    "streets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
)

communities = sa.Table(
    "communities",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("street_id", sa.ForeignKey("streets.id"), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False, server_default="Asia/Shanghai"),
    # The language of its people who chose none and whose browser asks for none we speak.
    sa.Column("locale", sa.String(16), nullable=False, server_default="zh-CN"),
)

grids = sa.Table(
    "grids",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("community_id", sa.ForeignKey("communities.id"), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
)

buildings = sa.Table(
    "buildings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("grid_id", sa.ForeignKey("grids.id"), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
)

households = sa.Table(
    "households",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("building_id", sa.ForeignKey("buildings.id"), nullable=False, index=True),
    sa.Column("unit", sa.String(32), nullable=False),
    sa.Column("address", sa.String(200), nullable=False),
)
