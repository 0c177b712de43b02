"""The ingest loop: MQTT batch → parse → one transaction → acknowledge.

A message that is not a valid event becomes a dead letter in the same
transaction, then is acknowledged: bad input is kept, never redelivered
forever, never dropped. A failed transaction is retried with backoff and the
messages stay unacknowledged meanwhile, so a crash loses nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from device_adapters.model import (
    CommandResult,
    DeadLetter,
    DeviceAvailability,
    DeviceEvent,
    Lane,
)
from hub.bridge.mqtt_bridge import Incoming, MqttBridge
from hub.bridge.topics import topic_kind
from hub.ingest.flows import BatchOutcome, Parsed, store_parsed
from hub.ingest.sizing import BatchSizer
from hub.settings import Settings
from hub.storage.db import Database

log = logging.getLogger(__name__)

# Dead letters made by the hub get ids derived from the message itself, so a
# redelivered bad message maps onto the same record.
_DEAD_LETTER_NAMESPACE = uuid.UUID("6f1f3c4e-8a51-4c1b-9a57-2d3b8b1a9e01")

OutcomeListener = Callable[[BatchOutcome], Awaitable[None]]


@dataclass
class IngestStats:
    batches: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    store_failures: int = 0
    last_batch_size: int = 0
    last_commit_ms: float = 0.0
    batch_limit: int = 0  # the size the next telemetry batch may have
    # Health (api/routes/health.py): monotonic times, None until it happened.
    last_commit_at: float | None = None  # the last batch committed
    failing_since: float | None = None  # first failed commit of the current failing streak
    isolated: int = 0  # events set aside as dead letters because storing them failed


def _gateway_of(topic: str) -> str:
    parts = topic.split("/")
    return parts[3] if len(parts) > 3 and parts[3] else "unknown"


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"invalid {where}: {first['msg']}{more}"[:1000]


def parse(items: list[Incoming]) -> Parsed:
    parsed = Parsed()
    now = datetime.now(UTC)
    for item in items:
        kind = topic_kind(item.topic)
        try:
            if kind == "events" and item.lane is not None:
                parsed.events.append(DeviceEvent.model_validate_json(item.payload))
            elif kind == "deadletters":
                parsed.letters.append(DeadLetter.model_validate_json(item.payload))
            elif kind == "availability":
                parsed.availability.append(DeviceAvailability.model_validate_json(item.payload))
            elif kind == "command-results":
                parsed.results.append(CommandResult.model_validate_json(item.payload))
            elif kind == "status" and item.payload in (b"online", b"offline"):
                parsed.gateways.append((_gateway_of(item.topic), item.payload == b"online", now))
            else:
                raise ValueError(f"no handler for topic {item.topic}")
        except (ValidationError, ValueError) as exc:
            reason = _reason(exc) if isinstance(exc, ValidationError) else str(exc)
            digest = hashlib.sha256(item.topic.encode() + b"\0" + item.payload).hexdigest()
            parsed.letters.append(
                DeadLetter(
                    dead_letter_id=uuid.uuid5(_DEAD_LETTER_NAMESPACE, digest),
                    gateway_id=_gateway_of(item.topic)[:64],
                    source=f"mqtt {item.topic}"[:256],
                    protocol="mqtt",
                    received_at=now,
                    reason=reason,
                    raw=item.payload,
                )
            )
    return parsed


class IngestWorker:
    def __init__(
        self,
        db: Database,
        bridge: MqttBridge,
        settings: Settings,
        listeners: list[OutcomeListener] | None = None,
    ) -> None:
        self._db = db
        self._bridge = bridge
        self._settings = settings
        self._listeners = listeners or []
        self.stats = IngestStats()

    def add_listener(self, listener: OutcomeListener) -> None:
        """Call ``listener`` after each committed batch (notifications hook in here)."""
        self._listeners.append(listener)

    async def run(self) -> None:
        settings = self._settings
        sizer = BatchSizer(settings.ingest_batch_size, settings.ingest_batch_target_ms)
        wait_s = settings.ingest_batch_ms / 1000
        while True:
            items = await self._bridge.next_batch(sizer.limit(), wait_s)
            if not items:
                continue
            outcome = await self._store_until_done(parse(items))
            if items[0].lane is not Lane.ALARM:  # alarm batches hold alarms only
                sizer.observe(len(items), self.stats.last_commit_ms)
            self.stats.batch_limit = sizer.limit()
            # Only now, with the transaction committed, may the broker forget them.
            self._bridge.ack(items)
            self._count(len(items), outcome)
            for ticket in outcome.tickets_opened:
                log.info(
                    "ticket #%s opened (%s, alert #%s) → %s",
                    ticket.ticket_id,
                    ticket.title,
                    ticket.alert_id,
                    f"user {ticket.assignee_id}" if ticket.assignee_id else "nobody on duty",
                )
            for listener in self._listeners:
                try:
                    await listener(outcome)
                except Exception:  # a listener must never stop ingest
                    log.exception("ingest listener failed")

    async def _store_until_done(self, parsed: Parsed) -> BatchOutcome:
        delay = 0.1
        while True:
            started = time.perf_counter()
            try:
                async with self._db.write() as conn:
                    outcome = await store_parsed(conn, parsed, datetime.now(UTC))
                self.stats.last_commit_ms = (time.perf_counter() - started) * 1000
                return outcome
            except asyncio.CancelledError:
                raise
            except Exception:
                self.stats.store_failures += 1
                log.exception(
                    "storing a batch of %d failed; retrying in %.1fs", len(parsed.events), delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _count(self, size: int, outcome: BatchOutcome) -> None:
        s = self.stats
        s.batches += 1
        s.last_batch_size = size
        s.stored += outcome.stored
        s.duplicates += outcome.duplicates
        s.dead_letters += outcome.dead_letters
