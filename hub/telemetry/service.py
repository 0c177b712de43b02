"""Telemetry after commit: the ingest listener, the history writer and its upkeep.

The listener runs in the ingest loop after each committed batch, so all it does
is pick the points out of the batch and append them to bounded queues. The
InfluxDB exporter and the history writer empty those queues on their own
tasks; a slow or absent server, or a full queue, never holds up ingest (and
alarms, which travel through the same loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from typing import Protocol

from hub.clock import Clock, SystemClock
from hub.ingest.flows import BatchOutcome
from hub.storage.db import Database
from hub.telemetry.extract import extract
from hub.telemetry.history import Retention, maintain, point_rows, store_points, to_ms
from hub.telemetry.models import TelemetryPoint

log = logging.getLogger(__name__)


class PointSink(Protocol):
    def offer(self, points: Sequence[TelemetryPoint]) -> None: ...


class TelemetryFeed:
    """An ingest OutcomeListener: a committed batch's points, to every sink, without waiting."""

    def __init__(self, sinks: Sequence[PointSink]) -> None:
        self.sinks = list(sinks)
        self.points_extracted = 0

    async def __call__(self, outcome: BatchOutcome) -> None:
        points = extract(outcome.events, outcome.contexts)
        self.points_extracted += len(points)
        for sink in self.sinks:
            sink.offer(points)


class HistoryWriter:
    """Stores points in the embedded history in batches, from a bounded queue.

    Counters as the InfluxDB exporter has them: points_queued, points_written,
    points_dropped (out of a full queue), write_failures (batches; they are
    retried, not dropped), buffer_depth.
    """

    def __init__(
        self,
        db: Database,
        *,
        capacity: int,
        batch_points: int = 500,
        flush_s: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        self._db = db
        self.capacity = capacity
        self.batch_points = batch_points
        self.flush_s = flush_s
        self.clock: Clock = clock or SystemClock()
        self.points_queued = 0
        self.points_written = 0
        self.points_dropped = 0
        self.write_failures = 0
        self._queue: deque[TelemetryPoint] = deque()
        self._wake = asyncio.Event()

    @property
    def buffer_depth(self) -> int:
        return len(self._queue)

    def offer(self, points: Sequence[TelemetryPoint]) -> None:
        for point in points:
            self._queue.append(point)
            self.points_queued += 1
            if len(self._queue) > self.capacity:
                self._queue.popleft()
                self.points_dropped += 1
        if len(self._queue) >= self.batch_points:
            self._wake.set()

    async def flush(self) -> None:
        """Store everything queued, a batch per transaction (an alarm waits one batch at most)."""
        while self._queue:
            batch = [self._queue[i] for i in range(min(self.batch_points, len(self._queue)))]
            rows = point_rows(batch, to_ms(self.clock.now()))
            async with self._db.write() as conn:
                await store_points(conn, rows)
            for _ in batch:
                self._queue.popleft()
            self.points_written += len(batch)

    async def run(self) -> None:
        delay = self.flush_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            try:
                await self.flush()
                delay = self.flush_s
            except asyncio.CancelledError:
                raise
            except Exception:
                # The batch stays queued (bounded) and is tried again, later each time.
                self.write_failures += 1
                log.exception("storing telemetry history failed; retrying")
                delay = min(delay * 2, 30.0)


class HistoryMaintenance:
    """Rolls up and prunes the history every interval; safe in several hub processes at once."""

    def __init__(
        self, db: Database, retention: Retention, interval_s: float, clock: Clock | None = None
    ) -> None:
        self._db = db
        self.retention = retention
        self.interval_s = interval_s
        self.clock: Clock = clock or SystemClock()
        self.runs = 0
        self.failures = 0

    async def run_once(self) -> None:
        async with self._db.write() as conn:
            result = await maintain(conn, self.clock.now(), self.retention)
        self.runs += 1
        log.debug("telemetry history maintenance: %s", result)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failures += 1
                log.exception("telemetry maintenance failed; retrying in %ss", self.interval_s)
