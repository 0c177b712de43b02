"""The ingest loop: MQTT batch → parse → one transaction → acknowledge → confirm.

A message that is not a valid event, or that its topic does not vouch for
(hub/ingest/messages.py), becomes a dead letter in the same transaction, then
is acknowledged: bad input is kept, never redelivered forever, never dropped.

One bad record never stops everyone's alarms: a batch whose transaction fails
is tried once more, then split in halves, each stored on its own, down to the
single message; a message that still fails is kept as a dead letter with the
error, and everything else is stored. Only when even that dead letter cannot be
stored (the database itself is failing) does the worker back off and retry,
with the messages unacknowledged meanwhile, so a crash loses nothing; health
reports it (``IngestStats.failing_since``).

After the commit the broker may forget the messages (PUBACK), and each sending
gateway is told which of its events and dead letters are settled (``confirm``),
so its outbox may delete them: the end-to-end acknowledgement of docs/delivery.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime

from device_adapters.model import Lane
from hub.bridge.mqtt_bridge import Incoming, MqttBridge
from hub.ingest.flows import BatchOutcome, Parsed, store_parsed
from hub.ingest.messages import hub_dead_letter, parse
from hub.ingest.sizing import BatchSizer
from hub.settings import IngestSettings
from hub.storage.db import Database

log = logging.getLogger(__name__)

OutcomeListener = Callable[[BatchOutcome], Awaitable[None]]
# Tries of a whole batch before it is split: a passing fault (a lock, a dropped
# connection) should not cost a split.
_WHOLE_TRIES = 2
_BACKOFF_MIN_S = 0.1
_BACKOFF_MAX_S = 5.0


class DatabaseFailing(Exception):
    """Not even a dead letter could be stored: the fault is the store's, not the input's."""


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


def merge_outcomes(into: BatchOutcome, other: BatchOutcome) -> None:
    """Add the outcome of one part of a split batch to the whole's."""
    for f in fields(BatchOutcome):
        mine, theirs = getattr(into, f.name), getattr(other, f.name)
        if isinstance(mine, list):
            mine.extend(theirs)
        elif isinstance(mine, dict):
            mine.update(theirs)
        else:
            setattr(into, f.name, mine + theirs)


class IngestWorker:
    def __init__(
        self,
        db: Database,
        bridge: MqttBridge,
        settings: IngestSettings,
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
        sizer = BatchSizer(settings.batch_size, settings.batch_target_ms)
        wait_s = settings.batch_ms / 1000
        while True:
            items = await self._bridge.next_batch(sizer.limit(), wait_s)
            if not items:
                continue
            outcome, confirm = await self._store_until_done(items)
            if items[0].lane is not Lane.ALARM:  # alarm batches hold alarms only
                sizer.observe(len(items), self.stats.last_commit_ms)
            self.stats.batch_limit = sizer.limit()
            # Only now, with the transaction committed, may the broker forget them.
            self._bridge.ack(items)
            for gateway_id, ids in confirm.items():
                self._bridge.confirm(gateway_id, ids)
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

    async def _store_until_done(
        self, items: Sequence[Incoming]
    ) -> tuple[BatchOutcome, dict[str, list[str]]]:
        """Store every message of ``items``, splitting around any that cannot be stored."""
        delay = _BACKOFF_MIN_S
        while True:
            outcome = BatchOutcome()
            confirm: dict[str, list[str]] = {}
            try:
                await self._store_part(list(items), outcome, confirm, whole=True)
            except asyncio.CancelledError:
                raise
            except DatabaseFailing as exc:
                # Parts stored before the fault are stored; their copies come back as
                # duplicates on the retry, which is harmless.
                log.error(
                    "the database is failing (%s); retrying %d messages in %.1fs",
                    exc.__cause__ or exc,
                    len(items),
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX_S)
                continue
            self.stats.failing_since = None
            self.stats.last_commit_at = time.monotonic()
            return outcome, confirm

    async def _commit(self, parsed: Parsed) -> BatchOutcome:
        started = time.perf_counter()
        async with self._db.write() as conn:
            outcome = await store_parsed(conn, parsed, datetime.now(UTC))
        self.stats.last_commit_ms = (time.perf_counter() - started) * 1000
        return outcome

    def _failed(self, exc: Exception, size: int) -> None:
        self.stats.store_failures += 1
        if self.stats.failing_since is None:
            self.stats.failing_since = time.monotonic()
        log.warning("storing %d messages failed: %r", size, exc)

    async def _store_part(
        self,
        items: list[Incoming],
        outcome: BatchOutcome,
        confirm: dict[str, list[str]],
        *,
        whole: bool,
    ) -> None:
        """Store ``items`` in one transaction, or split them until each part can be."""
        tries = _WHOLE_TRIES if whole or len(items) == 1 else 1
        for attempt in range(tries):
            parsed = parse(items, datetime.now(UTC))
            try:
                merge_outcomes(outcome, await self._commit(parsed))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(exc, len(items))
                if attempt + 1 < tries:
                    await asyncio.sleep(_BACKOFF_MIN_S)
                    continue
                if len(items) == 1:
                    await self._set_aside(items[0], exc, outcome, confirm, parsed)
                    return
                middle = len(items) // 2
                await self._store_part(items[:middle], outcome, confirm, whole=False)
                await self._store_part(items[middle:], outcome, confirm, whole=False)
                return
            for gateway_id, ids in parsed.confirm.items():
                confirm.setdefault(gateway_id, []).extend(ids)
            return

    async def _set_aside(
        self,
        item: Incoming,
        error: Exception,
        outcome: BatchOutcome,
        confirm: dict[str, list[str]],
        parsed: Parsed,
    ) -> None:
        """Keep a message that cannot be stored as a dead letter with the error."""
        reason = f"storing failed: {type(error).__name__}: {error}"
        letter = hub_dead_letter(item, reason, datetime.now(UTC))
        try:
            merge_outcomes(outcome, await self._commit(Parsed(set_aside=[letter])))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise DatabaseFailing(str(exc)) from exc
        self.stats.isolated += 1
        log.error("set aside %s as dead letter %s: %s", item.topic, letter.dead_letter_id, reason)
        # The sender's copy is settled too: it is kept here, as a dead letter.
        for gateway_id, ids in parsed.confirm.items():
            confirm.setdefault(gateway_id, []).extend(ids)

    def _count(self, size: int, outcome: BatchOutcome) -> None:
        s = self.stats
        s.batches += 1
        s.last_batch_size = size
        s.stored += outcome.stored
        s.duplicates += outcome.duplicates
        s.dead_letters += outcome.dead_letters
