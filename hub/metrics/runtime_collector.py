"""A Prometheus collector over the hub's live counters: bridge, ingest, timers, telemetry.

It reads the stats objects the components already keep (the same figures
``/healthz`` shows) at scrape time, so the hot path carries no metrics code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.bridge.mqtt_bridge import MqttBridge
from hub.deadletters.bounds import DeadLetterBounds
from hub.health import HealthMonitor
from hub.ingest.worker import IngestWorker
from hub.metrics.models import PREFIX
from hub.notifications.outbox import OutboxRelay
from hub.timers.scheduler import Scheduler


class HubParts(Protocol):
    """What the collector reads; ``HubRuntime`` has it all."""

    bridge: MqttBridge
    worker: IngestWorker
    scheduler: Scheduler
    outbox: OutboxRelay
    health: HealthMonitor
    dead_letter_bounds: DeadLetterBounds


# The telemetry sinks' counters (hub/telemetry: the InfluxDB exporter and the embedded
# history writer keep them as plain attributes), read by name at scrape time so that
# a hub without a sink (no HUB_INFLUX_URL, history off) simply has none of them.
_TELEMETRY_COUNTERS = {
    "points_queued": "Telemetry points accepted into the sink's buffer",
    "points_written": "Telemetry points the sink stored (InfluxDB confirmed, or history committed)",
    "points_dropped": "Telemetry points lost: pushed out of a full buffer or failed for good",
    "write_failures": "Telemetry batches that failed after all retries",
    "retries": "Telemetry write requests retried",
}
_TELEMETRY_SINKS = ("influx", "history")


def telemetry_sinks(runtime: object) -> dict[str, object]:
    """The runtime's telemetry sinks by name (``runtime.telemetry.influx`` ...), if any."""
    telemetry = getattr(runtime, "telemetry", None)
    if telemetry is None:
        return {}
    sinks = {name: getattr(telemetry, name, None) for name in _TELEMETRY_SINKS}
    return {name: sink for name, sink in sinks.items() if hasattr(sink, "points_queued")}


def _number(source: object, name: str) -> float | None:
    value = getattr(source, name, None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class RuntimeCollector(Collector):
    def __init__(self, parts: HubParts, telemetry: Callable[[], dict[str, object]]) -> None:
        self._parts = parts
        self._telemetry = telemetry

    def collect(self) -> Iterator[Metric]:
        bridge, stats = self._parts.bridge, self._parts.worker.stats
        yield _gauge(
            "mqtt_connected",
            "1 when both of the hub's MQTT connections are up",
            1 if bridge.connected else 0,
        )
        received = CounterMetricFamily(
            f"{PREFIX}_mqtt_messages_received",
            "MQTT messages the hub received, by connection: alarms (the alarm lane) and"
            " main (telemetry, availability, gateway status, dead letters, command results)",
            labels=["connection"],
        )
        for connection, count in sorted(bridge.received_on.items()):
            received.add_metric([connection], count)
        yield received
        yield _gauge(
            "bridge_inbox_pending",
            "Messages received from the broker and not yet taken by the ingest worker",
            bridge.pending(),
        )
        yield _counter(
            "bridge_reading_paused",
            "Times the main MQTT connection stopped reading because the inbox was full",
            bridge.reading_paused,
        )
        yield _counter("ingest_batches", "Ingest transactions committed", stats.batches)
        yield _counter(
            "ingest_duplicates",
            "Events received again (redeliveries) and not stored twice",
            stats.duplicates,
        )
        yield _counter(
            "ingest_dead_letters",
            "Dead letters this process handled (redelivered ones included), stored or,"
            " past the bounds, only counted (chub_dead_letters_dropped_total)",
            stats.dead_letters,
        )
        yield _counter(
            "ingest_store_failures",
            "Ingest transactions that failed and were retried",
            stats.store_failures,
        )
        yield _gauge(
            "ingest_last_commit_seconds",
            "Duration of the last ingest transaction",
            stats.last_commit_ms / 1000,
        )
        yield _gauge(
            "ingest_batch_limit", "Size the next telemetry batch may have", stats.batch_limit
        )
        timers = self._parts.scheduler.stats
        yield _counter(
            "timers_fired", "Stored timers (escalations, time limits) fired", timers.fired
        )
        yield _counter("timers_failed", "Stored timers whose action failed", timers.failed)
        relay = self._parts.outbox.stats
        yield _counter(
            "notifications_pushed_live",
            "Notifications handed to this hub's live streams (volunteers' screens)",
            relay.pushed_live,
        )
        yield _counter(
            "notifications_live_first_timeouts",
            "Ingest batches that went on before their notifications' live push was done"
            " (it waits up to 0.25 s)",
            relay.live_first_timeouts,
        )
        yield from self._telemetry_metrics()

    def _telemetry_metrics(self) -> Iterator[Metric]:
        sinks = self._telemetry()
        if not sinks:
            return
        for name, help_text in _TELEMETRY_COUNTERS.items():
            counter = CounterMetricFamily(f"{PREFIX}_telemetry_{name}", help_text, labels=["sink"])
            for sink, source in sinks.items():
                value = _number(source, name)
                if value is not None:
                    counter.add_metric([sink], value)
            if counter.samples:
                yield counter
        depth = GaugeMetricFamily(
            f"{PREFIX}_telemetry_buffer_depth",
            "Telemetry points waiting in the sink's buffer or in flight",
            labels=["sink"],
        )
        for sink, source in sinks.items():
            value = _number(source, "buffer_depth")
            if value is not None:
                depth.add_metric([sink], value)
        if depth.samples:
            yield depth


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"{PREFIX}_{name}", help_text, value=value)


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", help_text, value=value)
