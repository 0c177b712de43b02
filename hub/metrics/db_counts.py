"""Figures counted in the database at scrape time: open tickets, dead letters, outbox.

Prometheus collectors are synchronous and the database is async, so the
``/metrics`` route awaits ``refresh()`` first (at most once per
``DB_COUNTS_TTL_S``) and the collector then reports the cached counts.

Every hub process sharing a database reports the same figures: aggregate them
with ``max``, not ``sum`` (docs/deployment.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import sqlalchemy as sa
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.metrics.models import DB_COUNTS_TTL_S, PREFIX
from hub.schema.deadletters import dead_letters
from hub.schema.notifications import notification_outbox
from hub.schema.tickets import tickets
from hub.storage.db import Database
from hub.tickets.models import FINISHED, TicketStatus

# Dead letters the hub made itself (an MQTT message that was not a valid event)
# carry the protocol "mqtt"; the edge's carry the device's protocol.
_HUB_PROTOCOL = "mqtt"
OPEN_STATES = tuple(status.value for status in TicketStatus if status not in FINISHED)


class DatabaseCounts(Collector):
    def __init__(self, db: Database, ttl_s: float = DB_COUNTS_TTL_S) -> None:
        self._db = db
        self._ttl_s = ttl_s
        self._lock = asyncio.Lock()
        self._fetched_at: float | None = None
        self.open_tickets: dict[str, int] = {}
        self.dead_letters: dict[str, int] = {}  # protocol -> count
        # Notifications no hub has handed to every outside channel yet, and since when.
        self.undelivered = 0
        self.oldest_undelivered_at: datetime | None = None

    async def refresh(self) -> None:
        """Count again if the cached figures are older than the TTL."""
        async with self._lock:  # concurrent scrapes share one query
            now = time.monotonic()
            if self._fetched_at is not None and now - self._fetched_at < self._ttl_s:
                return
            async with self._db.read() as conn:
                open_rows = await conn.execute(
                    sa.select(tickets.c.status, sa.func.count())
                    .where(tickets.c.status.in_(OPEN_STATES))
                    .group_by(tickets.c.status)
                )
                self.open_tickets = {str(status): int(n) for status, n in open_rows}
                letter_rows = await conn.execute(
                    sa.select(dead_letters.c.protocol, sa.func.count()).group_by(
                        dead_letters.c.protocol
                    )
                )
                self.dead_letters = {str(protocol): int(n) for protocol, n in letter_rows}
                waiting = (
                    await conn.execute(
                        sa.select(
                            sa.func.count(), sa.func.min(notification_outbox.c.created_at)
                        ).where(notification_outbox.c.delivered_at.is_(None))
                    )
                ).one()
                self.undelivered, self.oldest_undelivered_at = int(waiting[0]), waiting[1]
            self._fetched_at = time.monotonic()

    def collect(self) -> Iterator[Metric]:
        if self._fetched_at is None:
            return  # never counted: say nothing rather than zeros
        gauge = GaugeMetricFamily(
            f"{PREFIX}_tickets_open",
            "Service tickets not yet closed, by state (counted in the database)",
            labels=["status"],
        )
        for status in OPEN_STATES:  # every state, zeros included, so panels do not go blank
            gauge.add_metric([status], self.open_tickets.get(status, 0))
        yield gauge
        # Published as a counter, though the purge (HUB_DEAD_LETTER_KEEP_DAYS) lowers
        # it, and rate()/increase() read a fall as a reset: see docs/deployment.md.
        counter = CounterMetricFamily(
            f"{PREFIX}_dead_letters_stored",
            "Dead letters kept in the database, by reason (undecodable device input from "
            "the edge, or an MQTT message the hub could not use) and protocol",
            labels=["reason", "protocol"],
        )
        for protocol, count in sorted(self.dead_letters.items()):
            reason = "invalid_message" if protocol == _HUB_PROTOCOL else "undecodable_device_input"
            counter.add_metric([reason, protocol], count)
        yield counter
        yield GaugeMetricFamily(
            f"{PREFIX}_notifications_undelivered",
            "Notifications in the outbox not yet taken by every outside channel (webhooks,"
            " SMS, ...); the live push does not count",
            value=self.undelivered,
        )
        oldest = self.oldest_undelivered_at
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            f"{PREFIX}_notifications_oldest_undelivered_age_seconds",
            "How long the oldest undelivered notification has waited (0: none waits)",
            value=max(age, 0.0),
        )
