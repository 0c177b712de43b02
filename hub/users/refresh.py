"""Refresh tokens: long-lived, single-use, rotated on every refresh.

A login starts a *family*. Each refresh marks the presented token used and
issues a new token of the same family. Only the sha256 of a token is stored,
so a copy of the database cannot be used to log in.

Presenting a token that was already used means two parties hold it (it was
stolen, or replayed): every token of its family is revoked, so the thief and
the owner both have to log in again. A user who is no longer active loses
all their tokens the next time one is presented.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.schema.users import refresh_tokens
from hub.users.models import UserPublic
from hub.users.service import get_user

TOKEN_BYTES = 32  # token_urlsafe(32): 43 characters, 256 bits of randomness
# A token longer than this was never issued here; it is refused before hashing.
MAX_TOKEN_LENGTH = 256


@dataclass(frozen=True)
class IssuedToken:
    """A refresh token as handed to the client (the only time its plain text exists)."""

    token: str
    family: str
    expires_at: datetime


class Rotation(NamedTuple):
    user: UserPublic
    refresh: IssuedToken


class Refused(StrEnum):
    """Why a refresh token was not accepted."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    REPLAYED = "replayed"
    INACTIVE = "inactive"


def hash_token(token: str) -> str:
    """The sha256 hex digest stored in place of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("refresh token times must be timezone-aware")
    return now.astimezone(UTC)


async def issue(
    conn: AsyncConnection,
    user_id: int,
    now: datetime,
    lifetime: timedelta,
    *,
    family: str | None = None,
) -> IssuedToken:
    """Store a new token for the user; a new family unless one is given (a rotation)."""
    now = _utc(now)
    if family is None:  # a login: a good moment to forget this user's dead logins
        await purge_expired(conn, user_id, now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    family = family or secrets.token_hex(16)  # 32 characters, the column's width
    expires_at = now + lifetime
    await conn.execute(
        refresh_tokens.insert().values(
            token_hash=hash_token(token),
            family=family,
            user_id=user_id,
            issued_at=now,
            expires_at=expires_at,
        )
    )
    return IssuedToken(token=token, family=family, expires_at=expires_at)


async def purge_expired(conn: AsyncConnection, user_id: int, now: datetime) -> int:
    """Delete the user's families whose every token has expired; how many rows went.

    A family with one live token keeps its used ones: presenting a used token
    must still revoke the family. Once all have expired, every one of them is
    refused anyway, so the rows only take space.
    """
    now = _utc(now)
    live = sa.select(refresh_tokens.c.family).where(
        refresh_tokens.c.user_id == user_id, refresh_tokens.c.expires_at > now
    )
    result = await conn.execute(
        refresh_tokens.delete().where(
            refresh_tokens.c.user_id == user_id,
            refresh_tokens.c.expires_at <= now,
            refresh_tokens.c.family.not_in(live),
        )
    )
    return result.rowcount


async def revoke_family(conn: AsyncConnection, family: str, now: datetime) -> int:
    """Revoke every token of the family not revoked yet; how many were."""
    result = await conn.execute(
        refresh_tokens.update()
        .where(refresh_tokens.c.family == family, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=_utc(now))
    )
    return result.rowcount


async def revoke_user(conn: AsyncConnection, user_id: int, now: datetime) -> int:
    """Revoke every token of the user not revoked yet (deactivation); how many were."""
    result = await conn.execute(
        refresh_tokens.update()
        .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=_utc(now))
    )
    return result.rowcount


async def revoke_family_of(conn: AsyncConnection, token: str, now: datetime) -> bool:
    """Log out: revoke the whole family of the token. False if no such token exists."""
    if len(token) > MAX_TOKEN_LENGTH:
        return False
    family = (
        await conn.execute(
            sa.select(refresh_tokens.c.family).where(
                refresh_tokens.c.token_hash == hash_token(token)
            )
        )
    ).scalar_one_or_none()
    if family is None:
        return False
    await revoke_family(conn, str(family), now)
    return True


async def try_rotate(
    conn: AsyncConnection,
    token: str,
    now: datetime,
    *,
    lifetime: timedelta | None = None,
) -> Rotation | Refused:
    """Exchange a valid token for a new one of its family, or say why not.

    The new token lives ``lifetime`` from ``now`` (None: as long as the one it
    replaces was issued for). Run it in a write transaction that is committed
    whatever the answer: a replay's revocation must stick.
    """
    now = _utc(now)
    if len(token) > MAX_TOKEN_LENGTH:
        return Refused.UNKNOWN
    row = (
        await conn.execute(
            sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == hash_token(token))
        )
    ).first()
    if row is None:
        return Refused.UNKNOWN
    m = row._mapping
    family, user_id = str(m["family"]), int(m["user_id"])
    if m["revoked_at"] is not None:
        return Refused.REVOKED
    if m["used_at"] is not None:
        await revoke_family(conn, family, now)
        return Refused.REPLAYED
    issued_at: datetime = m["issued_at"]
    expires_at: datetime = m["expires_at"]
    if expires_at <= now:
        return Refused.EXPIRED
    user = await get_user(conn, user_id)
    if user is None:
        await revoke_user(conn, user_id, now)
        return Refused.INACTIVE
    # Only one caller can mark it used, even with several writers (PostgreSQL):
    # whoever finds it already marked is the replay.
    marked = await conn.execute(
        refresh_tokens.update()
        .where(refresh_tokens.c.id == m["id"], refresh_tokens.c.used_at.is_(None))
        .values(used_at=now)
    )
    if marked.rowcount != 1:
        await revoke_family(conn, family, now)
        return Refused.REPLAYED
    new = await issue(
        conn,
        user.id,
        now,
        lifetime if lifetime is not None else expires_at - issued_at,
        family=family,
    )
    return Rotation(user, new)


async def rotate(
    conn: AsyncConnection,
    token: str,
    now: datetime,
    *,
    lifetime: timedelta | None = None,
) -> Rotation | None:
    """:func:`try_rotate` without the reason: (user, new token), or None."""
    result = await try_rotate(conn, token, now, lifetime=lifetime)
    return None if isinstance(result, Refused) else result
