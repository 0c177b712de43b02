"""Metrics taken from each committed ingest batch: events stored per lane, alert latency.

An ``OutcomeListener`` (``IngestWorker.add_listener``): the worker calls it
right after the batch's transaction committed, so "now" is the commit time,
give or take the listeners registered before this one (HubRuntime registers it
first).
"""

from __future__ import annotations

from collections import Counter as Tally
from datetime import UTC, datetime

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram

from hub.alerts.tables import alerts
from hub.ingest.flows import BatchOutcome
from hub.metrics.models import LATENCY_BUCKETS_S, PREFIX
from hub.storage.db import Database


class OutcomeMetrics:
    def __init__(self, db: Database, registry: CollectorRegistry) -> None:
        self._db = db
        self.events_stored = Counter(
            f"{PREFIX}_events_stored",
            "New device events stored (duplicates not counted), by lane",
            ["lane"],
            registry=registry,
        )
        for lane in ("alarm", "telemetry"):
            self.events_stored.labels(lane)  # both series exist from the start (rate() needs 0)
        self.alert_latency = Histogram(
            f"{PREFIX}_alert_latency_seconds",
            "From the edge receiving the device's event to the hub committing the new alert, "
            "by severity",
            ["severity"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )

    async def __call__(self, outcome: BatchOutcome) -> None:
        # outcome.events: the events this batch stored (read with getattr so that an
        # older BatchOutcome without it only loses this counter, not the listener).
        lanes = Tally(event.lane.value for event in getattr(outcome, "events", ()))
        for lane, count in lanes.items():
            self.events_stored.labels(lane).inc(count)
        if outcome.alerts_opened:
            await self._observe_latency(outcome.alerts_opened, datetime.now(UTC))

    async def _observe_latency(self, alert_ids: list[int], committed: datetime) -> None:
        # An alert's opened_at is its event's received_at: stamped by the edge when the
        # frame arrived. The device's own clock (device_time) is not used: wristbands
        # are often minutes or years off.
        async with self._db.read() as conn:
            rows = await conn.execute(
                sa.select(alerts.c.severity, alerts.c.opened_at).where(alerts.c.id.in_(alert_ids))
            )
            for row in rows:
                # Clamp: the edge's clock may run slightly ahead of the hub's.
                seconds = max(0.0, (committed - row.opened_at).total_seconds())
                self.alert_latency.labels(row.severity).observe(seconds)
