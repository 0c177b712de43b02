"""Edge gateways as the hub last heard of them."""

from __future__ import annotations

import sqlalchemy as sa

from hub.storage.metadata import metadata
from hub.storage.types import UtcDateTime

gateways = sa.Table(
    "gateways",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("online", sa.Boolean, nullable=False),
    sa.Column("changed_at", UtcDateTime, nullable=False),
)
