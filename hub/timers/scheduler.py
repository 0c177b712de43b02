"""The loop that fires stored timers: escalation steps, time limits, conditions over time.

Each due timer is claimed and handled in its own write transaction; the
notifications it produces are stored in the outbox in that same transaction
(hub/notifications/outbox.py), so they exist iff the timer's work committed.
``committed`` is told of each after the commit (the hub pokes its outbox relay
with it, so they go out at once). A handler that
fails leaves its timer unclaimed and is tried again a minute later, with the
error kept on the timer. The clock is injectable, so tests drive time.

One failing item never holds up the rest: a timer whose handler raises, a
``committed`` callback that raises, or upkeep (``sweep``) that fails is logged,
and the timers due with it fire all the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock, SystemClock
from hub.notifications import outbox
from hub.notifications.base import Notification
from hub.schema.timers import timers as timers_table
from hub.storage.db import Database
from hub.timers import service as timers

log = logging.getLogger(__name__)
_RETRY = timedelta(seconds=60)
_WELFARE_SWEEP = timedelta(minutes=10)

# What a timer kind does when one of its timers is due: its outcome (kept on the timer)
# and the notifications to store with it, in the caller's transaction.
TimerHandler = Callable[
    [AsyncConnection, dict[str, Any], datetime], Awaitable[tuple[str, list[Notification]]]
]
# Periodic upkeep (arming timers for new residents, changed rules, report days); may
# return how many timers it keeps armed.
Upkeep = Callable[[AsyncConnection, datetime], Awaitable[int | None]]


@dataclass(frozen=True)
class TimerKinds:
    """The timer kinds the domains register (hub/timer_kinds.py): the scheduler itself
    knows none of them."""

    handlers: Mapping[str, TimerHandler]
    upkeep: Mapping[str, Upkeep]  # by name, each run in its own transaction


@dataclass
class SchedulerStats:
    fired: int = 0
    skipped: int = 0  # claimed elsewhere, moved or cancelled in between
    failed: int = 0
    # Health: monotonic times, None until it happened.
    last_fired_at: float | None = None
    failing_since: float | None = None  # first failure since the last timer that fired


class Scheduler:
    def __init__(
        self,
        db: Database,
        committed: Callable[[Notification], object],
        *,
        kinds: TimerKinds,
        clock: Clock | None = None,
        name: str = "hub",
        poll_s: float = 1.0,
        batch: int = 100,
    ) -> None:
        self._db = db
        self._committed = committed
        self._kinds = kinds
        self.clock: Clock = clock or SystemClock()
        self._name = name
        self._poll_s = poll_s
        self._batch = batch
        self._wake = asyncio.Event()
        self._last_sweep: datetime | None = None
        self.stats = SchedulerStats()

    def poke(self) -> None:
        """Look for due timers now (a new short timer was just stored)."""
        self._wake.set()

    async def sweep(self) -> int:
        """Periodic upkeep: welfare clocks (new residents, changed rules), report timers.

        Each part in its own transaction, failures logged, never raised: one community's
        bad data (a time zone the reports cannot use) once stopped every timer, an SOS's
        escalation too, and kept the welfare clocks of every community unarmed. A part
        that failed is tried again a minute later. Returns how many welfare clocks there are.
        """
        now = self.clock.now()
        armed, failed = 0, False
        for name, job in self._kinds.upkeep.items():
            try:
                async with self._db.write() as conn:
                    armed += await job(conn, now) or 0
            except Exception:
                failed = True
                log.exception("%s failed; trying again in %s", name, _RETRY)
        self._last_sweep = now - _WELFARE_SWEEP + _RETRY if failed else now
        return armed

    async def tick(self) -> int:
        """Fire every timer due now; returns how many fired."""
        now = self.clock.now()
        if self._last_sweep is None or now - self._last_sweep >= _WELFARE_SWEEP:
            await self.sweep()
        fired = 0
        while True:
            async with self._db.read() as conn:
                batch = await timers.due(conn, now, self._batch)
            for timer in batch:
                fired += await self._fire(timer, now)
            if len(batch) < self._batch:
                return fired

    async def _fire(self, timer: timers.Timer, now: datetime) -> int:
        try:
            async with self._db.write() as conn:
                if not await timers.claim(conn, timer, now, self._name):
                    self.stats.skipped += 1
                    return 0
                outcome, notes = await self._handle(conn, timer, now)
                await timers.record_outcome(conn, timer, outcome)
                await outbox.enqueue(conn, notes)
        except Exception as exc:
            self.stats.failed += 1
            if self.stats.failing_since is None:
                self.stats.failing_since = time.monotonic()
            log.exception("timer %s (%s) failed; retrying in %s", timer.key, timer.kind, _RETRY)
            async with self._db.write() as conn:
                await conn.execute(
                    timers_table.update()
                    .where(timers_table.c.id == timer.id, timers_table.c.fired_at.is_(None))
                    .values(due_at=now + _RETRY, outcome=f"failed: {exc!r}"[:300])
                )
            return 0
        self.stats.fired += 1
        self.stats.last_fired_at = time.monotonic()
        self.stats.failing_since = None
        for note in notes:
            try:
                self._committed(note)
            except Exception:  # stored already: the relay's poll delivers it anyway
                log.exception(
                    "telling of notification %s after timer %s failed", note.id, timer.key
                )
        return 1

    async def _handle(
        self, conn: AsyncConnection, timer: timers.Timer, now: datetime
    ) -> tuple[str, list[Notification]]:
        handler = self._kinds.handlers.get(timer.kind)
        if handler is not None:
            return await handler(conn, timer.payload, now)
        log.error("timer %s has unknown kind %r; dropped", timer.key, timer.kind)
        return f"unknown kind {timer.kind!r}", []

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # the store may be briefly unavailable; keep the loop alive
                log.exception("scheduler tick failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)
