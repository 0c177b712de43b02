"""Telemetry for one hub process, built from the settings: what HubRuntime starts and stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from hub.clock import Clock
from hub.settings import InfluxSettings, TelemetrySettings
from hub.storage.db import Database
from hub.telemetry.history import Retention
from hub.telemetry.influx import InfluxExporter
from hub.telemetry.service import HistoryMaintenance, HistoryWriter, PointSink, TelemetryFeed

log = logging.getLogger(__name__)


class Telemetry:
    def __init__(
        self,
        db: Database,
        telemetry: TelemetrySettings,
        influx: InfluxSettings,
        clock: Clock | None = None,
    ) -> None:
        # Export is off unless HUB_INFLUX_URL is set; the history is on unless turned off.
        self.influx = (
            InfluxExporter.from_settings(influx, telemetry.buffer_points) if influx.url else None
        )
        # The metrics endpoint (hub/metrics) finds the exporter's counters under this name.
        self.exporter = self.influx
        self.history: HistoryWriter | None = None
        self.maintenance: HistoryMaintenance | None = None
        if telemetry.history:
            self.history = HistoryWriter(db, capacity=telemetry.buffer_points, clock=clock)
            self.maintenance = HistoryMaintenance(
                db,
                Retention.from_settings(telemetry),
                telemetry.maintenance_interval_s,
                clock=clock,
            )
        sinks: list[PointSink] = [s for s in (self.influx, self.history) if s is not None]
        self.feed = TelemetryFeed(sinks) if sinks else None

    def jobs(self) -> dict[str, Coroutine[Any, Any, None]]:
        jobs: dict[str, Coroutine[Any, Any, None]] = {}
        if self.influx is not None:
            jobs["hub-telemetry-influx"] = self.influx.run()
        if self.history is not None and self.maintenance is not None:
            jobs["hub-telemetry-history"] = self.history.run()
            jobs["hub-telemetry-maintenance"] = self.maintenance.run()
        return jobs

    def stats(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for name, sink in (("influx", self.influx), ("history", self.history)):
            if sink is not None:
                out[name] = {
                    "points_queued": sink.points_queued,
                    "points_written": sink.points_written,
                    "points_dropped": sink.points_dropped,
                    "write_failures": sink.write_failures,
                    "buffer_depth": sink.buffer_depth,
                }
        if self.influx is not None:
            out["influx"]["retries"] = self.influx.retries
        return out

    async def aclose(self) -> None:
        """Store and export what is queued (after ingest has stopped), then close the client."""
        if self.history is not None:
            try:
                await self.history.flush()
            except Exception:
                log.exception("telemetry history: %d points not stored", self.history.buffer_depth)
        if self.influx is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.influx.aclose()
