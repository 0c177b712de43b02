"""Dead letters: keep bad input with its raw bytes and reason, idempotently, within bounds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import DeadLetter
from hub.clock import Clock, SystemClock
from hub.deadletters.bounds import bounds_for
from hub.deadletters.models import DeadLetterPublic
from hub.schema.deadletters import dead_letters
from hub.storage.db import Database
from hub.storage.upsert import insert_ignoring_duplicates

log = logging.getLogger(__name__)


async def store(
    conn: AsyncConnection, letters: Sequence[DeadLetter], now: datetime, *, bounded: bool = True
) -> None:
    """Store ``letters`` in the caller's transaction, as far as the bounds allow.

    ``bounded=False`` stores every one (for letters that must never be dropped).
    """
    kept = bounds_for(conn).admit(letters, now) if bounded else list(letters)
    rows = [
        {
            "id": dl.dead_letter_id,
            "received_at": dl.received_at,
            "stored_at": now,
            "gateway_id": dl.gateway_id,
            "source": dl.source,
            "protocol": dl.protocol,
            "device_id": dl.device_id,
            "reason": dl.reason,
            "raw": dl.raw,
        }
        for dl in kept
    ]
    await insert_ignoring_duplicates(conn, dead_letters, rows)


async def list_dead_letters(
    conn: AsyncConnection, *, device_id: str | None, limit: int, offset: int
) -> tuple[list[DeadLetterPublic], int]:
    conditions = [dead_letters.c.device_id == device_id] if device_id else []
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(dead_letters).where(*conditions))
    ).scalar_one()
    rows = await conn.execute(
        sa.select(dead_letters)
        .where(*conditions)
        .order_by(dead_letters.c.received_at.desc())
        .limit(limit)
        .offset(offset)
    )
    return [DeadLetterPublic.model_validate(dict(r._mapping)) for r in rows], int(total)


class DeadLetterRetention:
    """Deletes dead letters stored more than ``keep_days`` ago, every ``interval_s``.

    By ``stored_at``, the hub's own clock: ``received_at`` comes from the edge
    and may be anything. In chunks, each its own short transaction, so a large
    first purge never holds the writer an alarm is waiting for. Safe in several
    hubs at once: a row one of them deleted is simply not found by the others.
    """

    def __init__(
        self,
        db: Database,
        keep_days: float,
        *,
        clock: Clock | None = None,
        interval_s: float = 3600.0,
        chunk: int = 1000,
    ) -> None:
        self._db = db
        self._keep = timedelta(days=keep_days)
        self.clock: Clock = clock or SystemClock()
        self.interval_s = interval_s
        self._chunk = chunk
        self.purged = 0
        self.failures = 0

    async def purge(self) -> int:
        """Delete what is older than the retention; how many."""
        cutoff = self.clock.now() - self._keep
        stale = dead_letters.c.stored_at < cutoff
        removed = 0
        while True:
            # stored_at has no index: the scan runs on a reader, and the writer (which
            # an alarm may be waiting for) only deletes by primary key.
            async with self._db.read() as conn:
                ids = list(
                    (
                        await conn.execute(
                            sa.select(dead_letters.c.id).where(stale).limit(self._chunk)
                        )
                    ).scalars()
                )
            if not ids:
                break
            async with self._db.write() as conn:
                result = await conn.execute(
                    dead_letters.delete().where(dead_letters.c.id.in_(ids), stale)
                )
            removed += result.rowcount
            if len(ids) < self._chunk:
                break
        self.purged += removed
        if removed:
            log.info("dead letters: %d older than %s purged", removed, self._keep)
        return removed

    async def run(self) -> None:
        while True:
            try:
                await self.purge()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failures += 1
                log.exception("purging dead letters failed; retrying in %ss", self.interval_s)
            await asyncio.sleep(self.interval_s)
