"""The health verdict and the dead letters' bounds as Prometheus figures.

The verdict is the one /healthz and /readyz give (hub/health.py), checked
afresh by ``HubMetrics.render`` before each scrape, so a rule alerting on
``chub_health_state`` sees what an orchestrator sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.deadletters.bounds import DeadLetterBounds
from hub.health import REASONS, HealthMonitor
from hub.metrics.models import PREFIX


class HealthParts(Protocol):
    health: HealthMonitor
    dead_letter_bounds: DeadLetterBounds


class HealthCollector(Collector):
    def __init__(self, parts: HealthParts) -> None:
        self._parts = parts

    def collect(self) -> Iterator[Metric]:
        verdict = self._parts.health.last
        yield GaugeMetricFamily(
            f"{PREFIX}_health_state",
            "The hub's health as /readyz says it: 0 ok, 1 degraded, 2 failing",
            value=int(verdict.state),
        )
        active = set(verdict.codes)
        reasons = GaugeMetricFamily(
            f"{PREFIX}_health_reason",
            "1 for each reason the hub is not ok (docs/deployment.md lists them)",
            labels=["reason"],
        )
        for code in REASONS:  # every reason, zeros included, so an alert rule has a series
            reasons.add_metric([code], 1 if code in active else 0)
        yield reasons
        yield GaugeMetricFamily(
            f"{PREFIX}_health_restart_needed",
            "1 when /healthz fails: a restart of this process is the cure",
            value=1 if verdict.restart else 0,
        )
        stats = self._parts.dead_letter_bounds.stats
        dropped = CounterMetricFamily(
            f"{PREFIX}_dead_letters_dropped",
            "Dead letters counted but not stored, past their gateway's bound (not sampled) "
            "or past the bound of all gateways together (this process's tally)",
            labels=["reason"],
        )
        for reason, count in stats.dropped.items():
            dropped.add_metric([reason.value], count)
        yield dropped
        yield CounterMetricFamily(
            f"{PREFIX}_dead_letters_sampled",
            "Dead letters stored past their gateway's bound, as samples (1 in N)",
            value=stats.sampled,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_dead_letters_truncated",
            "Dead letters stored with their raw bytes cut to the bound",
            value=stats.truncated,
        )
