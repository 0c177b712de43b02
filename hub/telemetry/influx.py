"""Export points to InfluxDB (or anything speaking its v2 write API) with influxdb-client.

influxdb-client's batching WriteApi does the batching (batch_size or
flush_interval, whichever first), gzip and the retries with exponential
backoff, on its own threads. What it does not do is bound its memory: a batch
being retried holds its points, and everything written meanwhile waits behind
it. So points first go into a bounded queue here and are handed to the
WriteApi only while fewer than ``max_in_flight`` are inside it; when the queue
is full the oldest points are dropped and counted. Ingest only ever appends to
the queue: it never waits for the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Sequence
from typing import cast

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write.point import Point
from influxdb_client.client.write_api import WriteApi, WriteOptions
from influxdb_client.domain.write_precision import WritePrecision
from reactivex.scheduler import ThreadPoolScheduler

from hub.settings import InfluxSettings
from hub.telemetry.models import TelemetryPoint

log = logging.getLogger(__name__)

_PRECISION = cast(WritePrecision, WritePrecision.MS)


def to_influx_point(point: TelemetryPoint) -> Point:
    # influxdb-client's Point is not annotated, hence the ignores.
    influx = Point(point.measurement)  # type: ignore[no-untyped-call]
    for key, value in point.all_tags().items():
        influx.tag(key, value)  # type: ignore[no-untyped-call]
    for name, number in point.fields:
        # Always a float: InfluxDB keeps one type per field, and 72 would be an integer.
        influx.field(name, number)  # type: ignore[no-untyped-call]
    influx.time(point.time, _PRECISION)  # type: ignore[no-untyped-call]
    return influx


def _count_lines(data: str | bytes) -> int:
    # A batch body is line protocol: one point per line.
    if isinstance(data, bytes):
        return data.count(b"\n") + 1
    return data.count("\n") + 1


class InfluxExporter:
    """Bounded, batched, retried export; counters as plain attributes for /metrics.

    ``points_queued``: points accepted into the buffer, ever; ``points_written``:
    points the server confirmed; ``points_dropped``: points lost, either pushed
    out of a full buffer or in a batch that failed after all its retries;
    ``write_failures``: batches that failed for good; ``retries``: retried
    requests; ``buffer_depth``: points waiting or in flight right now (never
    more than ``capacity``).
    """

    def __init__(
        self,
        url: str,
        *,
        token: str,
        org: str,
        bucket: str,
        capacity: int,
        batch_size: int = 500,
        flush_interval_ms: int = 1000,
        retry_interval_ms: int = 2000,
        max_retries: int = 5,
        exponential_base: int = 2,
        max_retry_delay_ms: int = 60_000,
        close_wait_ms: int = 5000,
    ) -> None:
        self.url, self.bucket, self.org = url, bucket, org
        self.capacity = capacity
        # Half the buffer at most may sit inside the client, so the newest points
        # always have room here and the oldest are the ones dropped.
        self.max_in_flight = max(1, min(capacity // 2, batch_size * 4))
        self.points_queued = 0
        self.points_written = 0
        self.points_dropped = 0
        self.write_failures = 0
        self.retries = 0
        self._in_flight = 0
        self._queue: deque[TelemetryPoint] = deque()
        self._lock = threading.Lock()  # the client's callbacks run on its threads
        self._wake = asyncio.Event()
        # A scheduler of its own: WriteOptions' default one is shared by every client.
        self._scheduler = ThreadPoolScheduler(max_workers=1)
        self._client = InfluxDBClient(
            url=url, token=token, org=org, enable_gzip=True, timeout=10_000
        )
        options = WriteOptions(
            batch_size=batch_size,
            flush_interval=flush_interval_ms,
            retry_interval=retry_interval_ms,
            max_retries=max_retries,
            exponential_base=exponential_base,
            max_retry_delay=max_retry_delay_ms,
            # Let every retry happen: the retries, not a total time, bound a batch.
            max_retry_time=max_retry_delay_ms * (max_retries + 1) + retry_interval_ms,
            max_close_wait=close_wait_ms,
            write_scheduler=self._scheduler,
        )
        self._write_api: WriteApi = self._client.write_api(
            write_options=options,
            success_callback=self._on_success,
            error_callback=self._on_error,
            retry_callback=self._on_retry,
        )
        self._closed = False

    @classmethod
    def from_settings(cls, influx: InfluxSettings, capacity: int) -> InfluxExporter:
        assert influx.url is not None
        token = influx.token.get_secret_value() if influx.token else ""
        return cls(
            influx.url,
            token=token,
            org=influx.org,
            bucket=influx.bucket,
            capacity=capacity,
            batch_size=influx.batch_size,
            flush_interval_ms=influx.flush_interval_ms,
            retry_interval_ms=influx.retry_interval_ms,
            max_retries=influx.max_retries,
            exponential_base=influx.exponential_base,
            max_retry_delay_ms=influx.max_retry_delay_ms,
        )

    @property
    def buffer_depth(self) -> int:
        with self._lock:
            return len(self._queue) + self._in_flight

    def offer(self, points: Sequence[TelemetryPoint]) -> None:
        """Queue points without waiting; a full buffer drops its oldest points."""
        if self._closed or not points:
            return
        with self._lock:
            for point in points:
                self._queue.append(point)
                self.points_queued += 1
                while self._queue and len(self._queue) + self._in_flight > self.capacity:
                    self._queue.popleft()
                    self.points_dropped += 1
        self._wake.set()

    def pump(self, *, everything: bool = False) -> int:
        """Hand queued points to the client while it has room; returns how many."""
        with self._lock:
            room = len(self._queue) if everything else self.max_in_flight - self._in_flight
            batch = [self._queue.popleft() for _ in range(min(room, len(self._queue)))]
            self._in_flight += len(batch)
        if batch:
            # Batching mode: this only puts the points on the client's queue.
            self._write_api.write(
                self.bucket,
                self.org,
                [to_influx_point(p) for p in batch],
                write_precision=_PRECISION,
            )
        return len(batch)

    async def run(self) -> None:
        while True:
            self.pump()
            self._wake.clear()
            # Woken by new points; the timeout picks up room freed by finished batches.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.2)

    async def aclose(self) -> None:
        """Hand over what is queued, wait (up to close_wait_ms) for it, close the client."""
        if self._closed:
            return
        self._closed = True
        self.pump(everything=True)
        await asyncio.to_thread(self._close_client)

    def _close_client(self) -> None:
        self._write_api.close()  # type: ignore[no-untyped-call]
        self._client.close()  # type: ignore[no-untyped-call]
        self._scheduler.executor.shutdown(wait=False)

    # influxdb-client callbacks, on its threads.
    def _on_success(self, _conf: tuple[str, str, str], data: str | bytes) -> None:
        written = _count_lines(data)
        with self._lock:
            self.points_written += written
            self._in_flight -= written

    def _on_error(self, _conf: tuple[str, str, str], data: str | bytes, exc: Exception) -> None:
        lost = _count_lines(data)
        with self._lock:
            self.write_failures += 1
            self.points_dropped += lost
            self._in_flight -= lost
        log.warning("telemetry export: a batch of %d points failed for good: %s", lost, exc)

    def _on_retry(self, _conf: tuple[str, str, str], _data: str | bytes, exc: Exception) -> None:
        with self._lock:
            self.retries += 1
        log.info("telemetry export: retrying a batch: %s", exc)
