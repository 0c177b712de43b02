"""Failed-login limits, kept in the database so that every API process counts together.

Three limits, checked in this order before a password is looked at:

* **per account and address**: after ``free_failures`` failures of one username
  from one address, each further try must wait 2, 4, 8 ... seconds after the
  last failure, at most ``max_delay_s``. A success from that address clears
  them. Someone guessing from elsewhere never delays the real user's address.
* **per address**, across usernames: ``address_failures`` per ``window_s``
  (sliding), so one client cannot guess through a list of accounts.
* **per account**, from all addresses: ``account_failures`` per ``window_s``, a
  last resort against guessing spread over many addresses. An address that
  logged in to the account within ``known_address_days`` still gets through,
  so even then the owner's usual phone or home network is not locked out.

A login let through is stored as a failure *before* its password is checked
(the check is slow; parallel guesses must not all pass meanwhile), and
:func:`login_succeeded` takes it back. Refused tries are not stored, so
waiting always works. Failures older than a day are purged as logins come in.

Across processes the check and the count are one transaction that holds the
account, the address and the pair: PostgreSQL advisory locks (taken in key
order, so two logins never deadlock), and on SQLite the file's write lock,
taken first by the purge.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.schema.users import login_failures, login_known_addresses
from hub.settings import LoginSettings
from hub.storage.upsert import upsert

MAX_KEY_LENGTH = 64  # the columns' width; usernames longer than this never exist
# A pair's failures count towards its delay this long; then they are purged.
FORGET_AFTER = timedelta(days=1)
# Advisory-lock key space, "HUB" 0x10 (hub/storage/locks.py uses 1 and 2).
_LOCK_SPACE = 0x4855_4210
_MAX_DOUBLINGS = 40  # 2**40 s is far beyond any cap; keeps the power small


@dataclass(frozen=True)
class LoginPolicy:
    free_failures: int = 5
    max_delay_s: int = 900
    address_failures: int = 50
    account_failures: int = 100
    window_s: int = 3600
    known_address_days: int = 30

    @classmethod
    def from_settings(cls, login: LoginSettings) -> LoginPolicy:
        return cls(
            free_failures=login.free_failures,
            max_delay_s=login.max_delay_s,
            address_failures=login.address_failures,
            account_failures=login.account_failures,
            window_s=login.window_s,
            known_address_days=login.known_address_days,
        )

    def delay_s(self, failures: int) -> int:
        """Seconds a try must wait after the last of ``failures`` from its address."""
        if failures < self.free_failures:
            return 0
        doublings = min(failures - self.free_failures + 1, _MAX_DOUBLINGS)
        return min(self.max_delay_s, int(2**doublings))


class Limit(StrEnum):
    """Which limit refused a login."""

    ACCOUNT_ADDRESS = "account_address"
    ADDRESS = "address"
    ACCOUNT = "account"


@dataclass(frozen=True)
class Refusal:
    limit: Limit
    retry_after: int  # whole seconds, at least 1


@dataclass(frozen=True)
class Attempt:
    """A login let through, stored as failed until :func:`login_succeeded`."""

    username: str
    address: str


def _keys(username: str, address: str) -> tuple[str, str]:
    return username.lower()[:MAX_KEY_LENGTH], address[:MAX_KEY_LENGTH]


def _lock_key(kind: str, value: str) -> int:
    """A 32-bit signed key; two values sharing one just wait for each other."""
    digest = hashlib.blake2b(f"{kind}\0{value}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


async def _lock(conn: AsyncConnection, keys: list[int]) -> None:
    if conn.dialect.name != "postgresql":
        return
    for key in sorted(set(keys)):  # one order for everyone: no deadlock
        await conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(:space, :key)"),
            {"space": _LOCK_SPACE, "key": key},
        )


async def _purge(conn: AsyncConnection, policy: LoginPolicy, now: datetime) -> None:
    """Delete forgotten failures and known addresses.

    On PostgreSQL rows another login holds are skipped (the next purge gets
    them): the purge never waits, so it can never be half of a deadlock.
    """
    old = sa.select(login_failures.c.id).where(login_failures.c.failed_at <= now - FORGET_AFTER)
    await conn.execute(
        login_failures.delete().where(
            login_failures.c.id.in_(old.with_for_update(skip_locked=True).scalar_subquery())
        )
    )
    known = login_known_addresses.c
    stale = sa.select(known.username, known.address).where(
        known.last_login_at <= now - timedelta(days=policy.known_address_days)
    )
    await conn.execute(
        login_known_addresses.delete().where(
            sa.tuple_(known.username, known.address).in_(stale.with_for_update(skip_locked=True))
        )
    )


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


async def _window_refusal(
    conn: AsyncConnection, where: sa.ColumnElement[bool], limit: int, window_s: int, now: datetime
) -> int:
    """0 if fewer than ``limit`` failures match in the window; else seconds until one leaves."""
    since = now - timedelta(seconds=window_s)
    in_window = sa.and_(where, login_failures.c.failed_at > since)
    count = (
        await conn.execute(sa.select(sa.func.count()).select_from(login_failures).where(in_window))
    ).scalar_one()
    if count < limit:
        return 0
    # Once this one leaves the window, limit - 1 remain.
    leaving: datetime = (
        await conn.execute(
            sa.select(login_failures.c.failed_at)
            .where(in_window)
            .order_by(login_failures.c.failed_at)
            .offset(count - limit)
            .limit(1)
        )
    ).scalar_one()
    return _seconds_until(leaving + timedelta(seconds=window_s), now)


async def _is_known(
    conn: AsyncConnection, policy: LoginPolicy, username: str, address: str, now: datetime
) -> bool:
    known = login_known_addresses.c
    row = await conn.execute(
        sa.select(known.username).where(
            known.username == username,
            known.address == address,
            known.last_login_at > now - timedelta(days=policy.known_address_days),
        )
    )
    return row.first() is not None


async def try_login(
    conn: AsyncConnection, policy: LoginPolicy, username: str, address: str, now: datetime
) -> Attempt | Refusal:
    """Let a login be tried (stored as failed for now), or say which limit refuses it.

    Run it in a write transaction of its own, committed before the password is
    checked, so that other processes see the attempt at once.
    """
    user_key, address = _keys(username, address)
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        await _purge(conn, policy, now)  # a write first: the file's lock is ours from here on
    await _lock(
        conn,
        [
            _lock_key("pair", f"{user_key}\0{address}"),
            _lock_key("address", address),
            _lock_key("account", user_key),
        ],
    )
    f = login_failures.c
    pair = (
        await conn.execute(
            sa.select(sa.func.count(), sa.func.max(f.failed_at)).where(
                f.username == user_key, f.address == address, f.failed_at > now - FORGET_AFTER
            )
        )
    ).one()
    failures, last = int(pair[0]), pair[1]
    delay = policy.delay_s(failures)
    if delay and last is not None and last + timedelta(seconds=delay) > now:
        return Refusal(Limit.ACCOUNT_ADDRESS, _seconds_until(last + timedelta(seconds=delay), now))
    wait = await _window_refusal(
        conn, f.address == address, policy.address_failures, policy.window_s, now
    )
    if wait:
        return Refusal(Limit.ADDRESS, wait)
    wait = await _window_refusal(
        conn, f.username == user_key, policy.account_failures, policy.window_s, now
    )
    if wait and not await _is_known(conn, policy, user_key, address, now):
        return Refusal(Limit.ACCOUNT, wait)
    await conn.execute(
        login_failures.insert().values(username=user_key, address=address, failed_at=now)
    )
    if not sqlite:
        await _purge(conn, policy, now)
    return Attempt(user_key, address)


async def login_succeeded(conn: AsyncConnection, attempt: Attempt, now: datetime) -> None:
    """The password was right: the account's failures from this address go (this one
    included), and the address is known to the account from now on."""
    await _lock(conn, [_lock_key("pair", f"{attempt.username}\0{attempt.address}")])
    f = login_failures.c
    await conn.execute(
        login_failures.delete().where(f.username == attempt.username, f.address == attempt.address)
    )
    await upsert(
        conn,
        login_known_addresses,
        {"username": attempt.username, "address": attempt.address, "last_login_at": now},
        ["username", "address"],
    )
