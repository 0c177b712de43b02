"""Metrics taken from each committed ingest batch: events stored per lane, alert latency.

An ``OutcomeListener`` (``IngestWorker.add_listener``): the worker calls it
right after the batch's transaction committed, so "now" is the commit time,
give or take the listeners registered before this one (HubRuntime registers it
first).
"""

from __future__ import annotations

from collections import Counter as Tally
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram

from hub.ingest.flows import BatchOutcome
from hub.metrics.models import LATENCY_BUCKETS_S, PREFIX


class OutcomeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
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
        lanes = Tally(event.lane.value for event in outcome.events)
        for lane, count in lanes.items():
            self.events_stored.labels(lane).inc(count)
        # An alert's opened_at is its event's received_at: stamped by the edge when the
        # frame arrived. The device's own clock (device_time) is not used: wristbands
        # are often minutes or years off. Taken from the batch, not read back from the
        # database, so the notification listeners after this one do not wait.
        committed = datetime.now(UTC)
        for severity, opened_at in outcome.opened_alerts:
            # Clamp: the edge's clock may run slightly ahead of the hub's.
            seconds = max(0.0, (committed - opened_at).total_seconds())
            self.alert_latency.labels(severity).observe(seconds)
