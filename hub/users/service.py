"""Users: creation with argon2 password hashes, and authentication."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.schema.users import users
from hub.storage.db import Database
from hub.users.models import Role, UserPublic

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the time the same,
# so response time does not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _public(row: sa.Row[tuple[object, ...]]) -> UserPublic:
    m = row._mapping
    return UserPublic(
        id=m["id"],
        username=m["username"],
        full_name=m["full_name"],
        role=Role(m["role"]),
        phone=m["phone"],
        community_id=m["community_id"],
        resident_id=m["resident_id"],
        locale=m["locale"],
    )


async def create_user(
    conn: AsyncConnection,
    *,
    username: str,
    password: str,
    full_name: str,
    role: Role,
    phone: str | None = None,
    community_id: int | None = None,
    resident_id: int | None = None,
) -> int:
    result = await conn.execute(
        users.insert().values(
            username=username,
            password_hash=hash_password(password),
            full_name=full_name,
            role=role.value,
            phone=phone,
            community_id=community_id,
            resident_id=resident_id,
            created_at=datetime.now(UTC),
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


async def get_user(conn: AsyncConnection, user_id: int) -> UserPublic | None:
    row = (
        await conn.execute(sa.select(users).where(users.c.id == user_id, users.c.is_active))
    ).first()
    return _public(row) if row else None


def _verifies(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def authenticate(db: Database, username: str, password: str) -> UserPublic | None:
    """The active user with this password, or None.

    Argon2 takes tens of milliseconds of CPU on purpose: it runs in a thread, with no
    connection held, so logins neither stall the event loop nor drain the pool.
    """
    async with db.read() as conn:
        row = (
            await conn.execute(
                sa.select(users).where(users.c.username == username, users.c.is_active)
            )
        ).first()
    stored_hash = row._mapping["password_hash"] if row else _DUMMY_HASH
    if not await asyncio.to_thread(_verifies, stored_hash, password):
        return None
    return _public(row) if row else None


async def set_locale(conn: AsyncConnection, user_id: int, locale: str | None) -> None:
    """Record the language a person chose (a supported tag), or forget it (None)."""
    await conn.execute(sa.update(users).where(users.c.id == user_id).values(locale=locale))
