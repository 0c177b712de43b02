"""People who log in: staff, property managers, volunteers, residents, admins."""

from __future__ import annotations

import sqlalchemy as sa

from hub.storage.metadata import metadata
from hub.storage.types import UtcDateTime

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("full_name", sa.String(100), nullable=False),
    sa.Column("phone", sa.String(32)),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    # The community a manager, staff member or volunteer works for; the resident a resident user is.
    sa.Column("community_id", sa.ForeignKey("communities.id"), index=True),
    sa.Column("resident_id", sa.ForeignKey("residents.id"), index=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)


# Refresh tokens: only a hash is stored. Each refresh replaces the token with a
# new one of the same family; presenting a used token again revokes the family
# (it was stolen, or replayed), so the thief and the owner both log in anew.
refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("family", sa.String(32), nullable=False, index=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("used_at", UtcDateTime),
    sa.Column("revoked_at", UtcDateTime),
)
