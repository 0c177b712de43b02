"""Schedule, move, cancel and claim stored timers, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.schema.timers import timers
from hub.storage.upsert import insert_ignoring_duplicates


@dataclass(frozen=True)
class Timer:
    id: int
    key: str
    kind: str
    due_at: datetime
    payload: dict[str, Any]


async def schedule(
    conn: AsyncConnection,
    key: str,
    kind: str,
    due_at: datetime,
    payload: Mapping[str, Any],
    now: datetime,
) -> None:
    """Schedule once: a key already scheduled (fired or not) is left as it is."""
    await insert_ignoring_duplicates(
        conn,
        timers,
        [
            {
                "key": key,
                "kind": kind,
                "due_at": due_at,
                "payload": dict(payload),
                "created_at": now,
                "outcome": "",
            }
        ],
    )


async def reschedule(
    conn: AsyncConnection,
    key: str,
    kind: str,
    due_at: datetime,
    payload: Mapping[str, Any],
    now: datetime,
) -> None:
    """Set a pending timer's due time (creating it if needed); a fired one is re-armed.

    For conditions that restart with every observation (the welfare check's
    "no sign of life for N hours" starts again at each sign of life).
    """
    result = await conn.execute(
        timers.update()
        .where(timers.c.key == key)
        .values(due_at=due_at, payload=dict(payload), fired_at=None, cancelled_at=None, outcome="")
    )
    if result.rowcount == 0:
        await schedule(conn, key, kind, due_at, payload, now)


async def start_once(
    conn: AsyncConnection,
    key: str,
    kind: str,
    due_at: datetime,
    payload: Mapping[str, Any],
    now: datetime,
) -> None:
    """Arm a timer unless it is already pending (a fired or cancelled one is re-armed).

    For conditions whose clock starts at the first observation and keeps
    running through repeats (a door opened, a reading above a limit).
    """
    if await pending(conn, key) is None:
        await reschedule(conn, key, kind, due_at, payload, now)


async def cancel(conn: AsyncConnection, key: str, now: datetime, why: str) -> bool:
    """Cancel a pending timer; True if one was pending."""
    result = await conn.execute(
        timers.update()
        .where(timers.c.key == key, timers.c.fired_at.is_(None), timers.c.cancelled_at.is_(None))
        .values(cancelled_at=now, outcome=why[:300])
    )
    return result.rowcount > 0


async def pending(conn: AsyncConnection, key: str) -> Timer | None:
    row = (
        await conn.execute(
            sa.select(timers).where(
                timers.c.key == key, timers.c.fired_at.is_(None), timers.c.cancelled_at.is_(None)
            )
        )
    ).first()
    return _timer(row) if row is not None else None


async def pending_keys(conn: AsyncConnection, keys: list[str]) -> set[str]:
    """Which of ``keys`` are pending timers (looked up by the unique key index)."""
    return await _keys(conn, keys, pending_only=True)


async def existing_keys(conn: AsyncConnection, keys: list[str]) -> set[str]:
    """Which of ``keys`` have a timer at all: pending, fired or cancelled."""
    return await _keys(conn, keys, pending_only=False)


async def _keys(conn: AsyncConnection, keys: list[str], *, pending_only: bool) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        query = sa.select(timers.c.key).where(timers.c.key.in_(keys[start : start + 500]))
        if pending_only:
            query = query.where(timers.c.fired_at.is_(None), timers.c.cancelled_at.is_(None))
        found.update(r.key for r in await conn.execute(query))
    return found


def _timer(row: sa.Row[Any]) -> Timer:
    return Timer(int(row.id), row.key, row.kind, row.due_at, dict(row.payload or {}))


async def due(conn: AsyncConnection, now: datetime, limit: int) -> list[Timer]:
    rows = await conn.execute(
        sa.select(timers)
        .where(timers.c.fired_at.is_(None), timers.c.cancelled_at.is_(None), timers.c.due_at <= now)
        .order_by(timers.c.due_at, timers.c.id)
        .limit(limit)
    )
    return [_timer(r) for r in rows]


async def next_due_at(conn: AsyncConnection) -> datetime | None:
    value = (
        await conn.execute(
            sa.select(sa.func.min(timers.c.due_at)).where(
                timers.c.fired_at.is_(None), timers.c.cancelled_at.is_(None)
            )
        )
    ).scalar()
    return value if isinstance(value, datetime) else None


async def claim(conn: AsyncConnection, timer: Timer, now: datetime, by: str) -> bool:
    """Mark a timer fired, unless another process got there first (or it was moved/cancelled).

    The caller does the timer's work in the same transaction, so the work and
    the claim commit together or not at all: it happens exactly once. A hub
    killed mid-work leaves nothing behind: its transaction is rolled back, the
    timer is still due, and another hub fires it on its next tick.

    On PostgreSQL the row is locked first with SKIP LOCKED: a timer another hub
    is firing right now is skipped at once instead of waited for (the UPDATE
    alone would block until that hub commits, then match nothing).
    """
    if conn.dialect.name == "postgresql":
        locked = await conn.execute(
            sa.select(timers.c.id)
            .where(
                timers.c.id == timer.id,
                timers.c.fired_at.is_(None),
                timers.c.cancelled_at.is_(None),
                timers.c.due_at == timer.due_at,
            )
            .with_for_update(skip_locked=True)
        )
        if locked.first() is None:
            return False
    result = await conn.execute(
        timers.update()
        .where(
            timers.c.id == timer.id,
            timers.c.fired_at.is_(None),
            timers.c.cancelled_at.is_(None),
            timers.c.due_at == timer.due_at,
        )
        .values(fired_at=now, fired_by=by[:64])
    )
    return result.rowcount == 1


async def record_outcome(conn: AsyncConnection, timer: Timer, outcome: str) -> None:
    await conn.execute(timers.update().where(timers.c.id == timer.id).values(outcome=outcome[:300]))
