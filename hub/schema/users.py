"""People who log in: staff, property managers, volunteers, residents, admins."""

from __future__ import annotations

import sqlalchemy as sa

from hub.schema.base import metadata
from hub.schema.types import UtcDateTime

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
    # The language the person chose (hub.i18n.locales); None: their browser's, else
    # their community's.
    sa.Column("locale", sa.String(16)),
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


# Failed logins, one row each, shared by every API process (hub/users/login_limits.py).
# Rows older than a day are purged as logins come in.
login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False),  # lower-cased, as typed
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("failed_at", UtcDateTime, nullable=False),
    # The three counts a login attempt makes, and the purge.
    sa.Index("ix_login_failures_username_address", "username", "address", "failed_at"),
    sa.Index("ix_login_failures_username", "username", "failed_at"),
    sa.Index("ix_login_failures_address", "address", "failed_at"),
    sa.Index("ix_login_failures_failed_at", "failed_at"),
)

# The addresses each account logged in from lately: they pass the account-wide limit.
login_known_addresses = sa.Table(
    "login_known_addresses",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("address", sa.String(64), primary_key=True),
    sa.Column("last_login_at", UtcDateTime, nullable=False, index=True),
)
