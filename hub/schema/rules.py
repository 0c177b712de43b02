"""One validated rules document per community (hub.policy.document.RulesDocument as JSON)."""

from __future__ import annotations

import sqlalchemy as sa

from hub.schema.base import metadata
from hub.schema.types import UtcDateTime

community_rules = sa.Table(
    "community_rules",
    metadata,
    sa.Column("community_id", sa.ForeignKey("communities.id"), primary_key=True),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("updated_by", sa.ForeignKey("users.id")),
)
