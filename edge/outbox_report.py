"""The outbox's backlog, told to the hub before the disk fills.

Every ``EDGE_OUTBOX_REPORT_S`` the gateway publishes what its outbox holds and how near
it is to its bound and to a full disk (chub/v1/edge/<id>/outbox, retained). Over the
bound the outbox thins old telemetry, and a disk that fills stops it storing alarms:
both are worth a person's attention hours before they happen, while the hub is still
reachable. A report while the uplink is down is skipped: the next one says it all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from device_adapters.model import OutboxReport
from edge.outbox import OutboxStats
from edge.settings import EdgeSettings

log = logging.getLogger(__name__)


class ReportPublisher(Protocol):
    @property
    def connected(self) -> bool: ...

    async def publish_outbox_report(self, report: OutboxReport) -> None: ...


def disk_free(path: Path) -> int | None:
    """Bytes free on the file system holding ``path`` (its folder); None if unknown."""
    try:
        return shutil.disk_usage(path.parent).free
    except OSError:
        return None


def make_report(
    settings: EdgeSettings, stats: OutboxStats, free: int | None, now: datetime
) -> OutboxReport:
    bound = settings.edge_outbox_max_bytes
    filling = stats.backlog_bytes >= settings.edge_outbox_warn_ratio * bound or (
        free is not None and free < settings.edge_disk_free_warn_bytes
    )
    return OutboxReport(
        gateway_id=settings.gateway_id,
        at=now,
        items=stats.backlog + stats.awaiting_confirmation,
        alarms=stats.backlog_alarms,
        bytes=stats.backlog_bytes,
        max_bytes=bound,
        disk_free_bytes=free,
        oldest_age_s=stats.oldest_age_s,
        filling=filling,
    )


class OutboxReporter:
    def __init__(
        self,
        settings: EdgeSettings,
        stats: Callable[[], OutboxStats],
        uplink: ReportPublisher,
    ) -> None:
        self._settings, self._stats, self._uplink = settings, stats, uplink
        self._task: asyncio.Task[None] | None = None

    async def report_now(self) -> OutboxReport | None:
        """Publish one report now; None when the uplink is down or the publish failed."""
        if not self._uplink.connected:
            return None
        free = await asyncio.to_thread(disk_free, self._settings.resolved_outbox_path)
        report = make_report(self._settings, self._stats(), free, datetime.now(UTC))
        try:
            await self._uplink.publish_outbox_report(report)
        except Exception as exc:  # the uplink's errors: the next report tries again
            log.warning("outbox report not published: %s", exc)
            return None
        if report.filling:
            log.warning(
                "outbox filling: %s items, %s of %s bytes, %s bytes free on disk",
                report.items,
                report.bytes,
                report.max_bytes,
                report.disk_free_bytes,
            )
        return report

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="edge-outbox-report")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        every = self._settings.edge_outbox_report_s
        while True:
            sent = await self.report_now()
            # Not sent (uplink down): try again soon, so a reconnect is followed by a report.
            await asyncio.sleep(every if sent is not None else min(every, 1.0))
