"""The hub's Prometheus registry: one per hub runtime, never the process-global one.

Several hubs in one process (the tests, the benchmarks) each keep their own
figures; ``render()`` is what ``GET /metrics`` answers.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, generate_latest

from hub.metrics.db_counts import DatabaseCounts
from hub.metrics.health import HealthCollector
from hub.metrics.outcomes import OutcomeMetrics
from hub.metrics.runtime_collector import HubParts, RuntimeCollector, telemetry_sinks
from hub.storage.db import Database

log = logging.getLogger(__name__)


class HubMetrics:
    """Build with the runtime right after its ingest worker exists and register
    ``outcomes`` as the worker's first listener; the runtime's other parts are
    read at scrape time."""

    def __init__(self, db: Database, parts: HubParts) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.outcomes = OutcomeMetrics(self.registry)
        self.db_counts = DatabaseCounts(db)
        self.registry.register(RuntimeCollector(parts, lambda: telemetry_sinks(parts)))
        self.registry.register(self.db_counts)
        self.registry.register(HealthCollector(parts))
        self._parts = parts

    async def render(self) -> bytes:
        """The text exposition format, with the database counts at most a TTL old
        and the health checked now."""
        await self._parts.health.check()
        try:
            await self.db_counts.refresh()
        except Exception:  # the health figures still go out: they say what is wrong
            log.warning("counting in the database for /metrics failed", exc_info=True)
        return generate_latest(self.registry)
