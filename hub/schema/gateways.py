"""Edge gateways as the hub last heard of them."""

from __future__ import annotations

import sqlalchemy as sa

from hub.schema.base import metadata
from hub.schema.types import UtcDateTime

gateways = sa.Table(
    "gateways",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("online", sa.Boolean, nullable=False),
    sa.Column("changed_at", UtcDateTime, nullable=False),
)
