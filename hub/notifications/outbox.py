"""The notification outbox: nothing lost in a crash, and live push across hub processes.

Producers (the ingest's ``store_parsed``, the timer scheduler, the ticket and
report API routes) call :func:`enqueue` inside their own write transaction: a
notification is stored exactly when the work that caused it commits, and a hub
killed after the commit has lost nothing. After the commit the producer pokes
its process's :class:`OutboxRelay` (``poke``), which every hub runs, with two
loops:

* **Delivery** to the outside channels (webhooks, SMS, ...: every plugin but
  the live push). A sender claims undelivered rows whose claim is free or over
  (``claimed_until``; PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so two hubs never
  claim one row at once; SQLite has one writer), hands each to
  :meth:`NotificationHub.deliver` and marks it ``delivered_at``. A channel that
  fails is retried with back-off (1 s, 2 s, 4 s, ... up to 5 min), only that
  channel (``delivered_to`` lists those that took it), with ``last_error`` kept.
  **At least once**: a hub that dies between delivering and marking leaves its
  claim, which ends after ``claim_s`` (or at once when the hub restarts under
  the same ``HUB_HUB_CLIENT_ID``); the row is then delivered again with the
  **same notification id**, which webhooks carry in ``X-Hub-Delivery`` for the
  receiver to drop duplicates. Without a crash, exactly once. A hub with no
  outside channel (no webhooks configured) marks what is due delivered in one
  statement a pass instead.
* **Live feed**: every hub tails all rows (delivered or not) by id and pushes
  each notification to its own :class:`~hub.notifications.live.LiveNotifier`
  once. On PostgreSQL ids become visible in commit order, not id order (id 11
  may commit before id 10), so an id skipped over is remembered as a gap and
  looked for again until it shows up or ``gap_wait_s`` passes (its transaction
  rolled back, or ran longer than that: its live push is then missed, its
  delivery is not).

Both loops wake at once on ``poke`` (a commit in this process), else every
``poll_s`` (0.5 s: how late another hub's notification may reach this hub's
live streams). The silent-alarm guard (:meth:`NotificationHub.guard`) runs at
delivery and at the live push. Rows are purged ``keep_days`` after they were
made (with the channels' outcomes, ``notification_deliveries``); one still undelivered
then is given up with an error in the log.

Times come from the hubs' clocks (as timers' do): keep them in sync (NTP);
a skew shortens or lengthens claims by as much.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock, SystemClock
from hub.notifications.base import Notification, NotificationHub
from hub.schema.notifications import notification_deliveries as deliveries
from hub.schema.notifications import notification_outbox as outbox
from hub.storage.db import Database
from hub.storage.upsert import insert_ignoring_duplicates


class Committed(Protocol):
    """What a committed batch tells the relay (hub.ingest.flows.BatchOutcome has it):
    the notifications it stored. A protocol, so notifications need not know ingest."""

    @property
    def notifications(self) -> Sequence[Notification]: ...


log = logging.getLogger(__name__)

POLL_S = 0.5
# The PostgreSQL channel on which a commit that stored notifications says so.
WAKEUP_CHANNEL = "chub_outbox"
_BATCH = 50  # rows per claim and per tail read
_MAX_IN_FLIGHT = 200  # deliveries one hub runs at once
_BACKOFF_FIRST_S = 1.0
_BACKOFF_MAX_S = 300.0
_GAP_WAIT_S = 30.0
_MAX_GAPS = 1000
# How long, at most, ingest waits for the live push of a batch's notifications.
LIVE_FIRST_S = 0.25
_START_LOOKBACK = 100  # ids below the newest, checked for gaps when a hub starts
_PURGE_EVERY_S = 600.0
_ERROR_CHARS = 500


async def enqueue(conn: AsyncConnection, notifications: Sequence[Notification]) -> None:
    """Store notifications in the caller's transaction: they exist iff it commits.

    A notification id already stored is skipped (it is that same notification),
    so the caller's transaction never fails on it.
    """
    if not notifications:
        return
    now = datetime.now(UTC)
    await insert_ignoring_duplicates(
        conn,
        outbox,
        [
            {
                "notification_id": n.id,
                "created_at": now,
                "payload": n.model_dump(mode="json"),
                "delivered_to": [],
                "attempts": 0,
            }
            for n in notifications
        ],
    )
    if conn.dialect.name == "postgresql":
        # Sent when the transaction commits (never if it rolls back): every process
        # listening (hub/notifications/wakeup.py) looks at the outbox at once.
        await conn.execute(sa.select(sa.func.pg_notify(WAKEUP_CHANNEL, "")))


@dataclass
class RelayStats:
    delivered: int = 0  # rows this hub marked delivered
    failed: int = 0  # delivery attempts with a channel failing (retried later)
    redelivered: int = 0  # claims of a row tried before (a failure, or a claim that ran out)
    pushed_live: int = 0  # notifications handed to this hub's live streams
    late_live: int = 0  # of those, found in a gap (committed after a higher id)
    unreadable: int = 0  # rows whose payload is no Notification (logged, never delivered)
    purged: int = 0
    given_up: int = 0  # purged while still undelivered
    live_first_timeouts: int = 0  # ingest went on before the live push was done


@dataclass(frozen=True)
class _Claimed:
    row_id: int
    notification_id: str
    payload: Any
    attempts: int
    delivered_to: tuple[str, ...]


@dataclass(frozen=True)
class _Result:
    row_id: int
    attempts: int
    delivered_to: tuple[str, ...]
    error: str | None


def _due(now: datetime) -> sa.ColumnElement[bool]:
    """Undelivered, and its claim or back-off is over (or it was never tried)."""
    return sa.and_(
        outbox.c.delivered_at.is_(None),
        sa.or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= now),
    )


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(_BACKOFF_MAX_S, _BACKOFF_FIRST_S * 2 ** max(0, attempts - 1)))


def _parse(row_id: int, payload: Any) -> Notification | None:
    try:
        return Notification.model_validate(payload)
    except ValidationError as exc:
        log.error("outbox row %s holds no valid notification: %s", row_id, exc)
        return None


class OutboxRelay:
    """One per hub process: delivers stored notifications and feeds the live push."""

    def __init__(
        self,
        db: Database,
        hub: NotificationHub,
        *,
        name: str = "hub",
        clock: Clock | None = None,
        poll_s: float = POLL_S,
        claim_s: float = 30.0,
        keep_days: float = 3.0,
        gap_wait_s: float = _GAP_WAIT_S,
        batch: int = _BATCH,
        max_in_flight: int = _MAX_IN_FLIGHT,
        live_first_s: float = LIVE_FIRST_S,
        deliver: bool = True,
    ) -> None:
        """``deliver=False``: the live feed alone, for an API worker process; the hub
        process delivers (and purges) what every process stored."""
        if claim_s <= 0 or poll_s <= 0 or batch < 1 or max_in_flight < 1 or live_first_s < 0:
            raise ValueError(
                "claim_s and poll_s must be positive, live_first_s not negative, "
                "batch and max_in_flight >= 1"
            )
        self._db = db
        self.hub = hub
        self.name = name
        self.delivers = deliver
        # Per process: a hub restarted under the same name tells its old claims from its own.
        self.claimer = f"{name[:64]}#{uuid.uuid4().hex[:8]}"
        self.clock: Clock = clock or SystemClock()
        self._poll_s = poll_s
        self._claim = timedelta(seconds=claim_s)
        self._keep = timedelta(days=keep_days)
        self._gap_wait_s = gap_wait_s
        self._batch = batch
        self._max_in_flight = max_in_flight
        self._live_first_s = live_first_s
        self._deliver_wake = asyncio.Event()
        self._live_wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._results: list[_Result] = []
        self._started = False
        self._closing = False
        self._running = asyncio.Event()  # run() was called
        self._stopped = asyncio.Event()  # and has returned
        self._cursor = 0  # the highest id the live feed has seen
        self._gaps: dict[int, float] = {}  # ids below the cursor not seen yet → when first missed
        self._last_purge: datetime | None = None
        self._tails_begun = 0  # live-feed passes started so far
        self._tail_finished = 0  # the number of the last pass that finished
        self._tail_done = asyncio.Event()
        self.stats = RelayStats()

    # -- wake-ups -------------------------------------------------------------

    def poke(self) -> None:
        """Look at the outbox now: this process just committed notifications."""
        self._deliver_wake.set()
        self._live_wake.set()

    def committed(self, _notification: Notification) -> None:
        """``poke`` in the shape of the timer scheduler's per-notification callback."""
        self.poke()

    async def after_ingest(self, outcome: Committed) -> None:
        """An ingest listener: the batch's notifications are committed, look now.

        The ingest worker waits (up to ``live_first_s``, 0.25 s) until the live feed
        has pushed them: an SOS reaches the volunteers' screens before the next
        telemetry batch takes the event loop, as alarms are read before telemetry.
        The wait is a wall-clock budget: on a busy host (or while something holds
        the event loop: an in-loop SQLite write, a password check) a live-feed pass
        can take longer, and ingest goes on without it (``live_first_timeouts``).
        The push still happens, a little later; nothing is lost.
        """
        if not outcome.notifications:
            return
        self.poke()
        if not self._running.is_set() or self._stopped.is_set() or self._closing:
            return
        begun = self._tails_begun  # a pass begun before the commit may have missed them
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._live_first_s
        while self._tail_finished <= begun and not self._stopped.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                self.stats.live_first_timeouts += 1
                return
            self._tail_done.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._tail_done.wait(), remaining)

    # -- start ----------------------------------------------------------------

    async def start(self) -> None:
        """Take back what this hub's previous run left claimed; start the live feed at the end.

        A hub is restarted under the same name (docs/scale-out.md), so rows claimed
        under that name by another run were never marked: that run died. They are
        due again at once instead of when their claim would end.
        """
        if self._started:
            return
        if self.delivers:
            await self._release_earlier_claims()
        await self._start_live_feed()
        self._started = True

    async def _release_earlier_claims(self) -> None:
        async with self._db.write() as conn:
            released = await conn.execute(
                outbox.update()
                .where(
                    outbox.c.delivered_at.is_(None),
                    outbox.c.claimed_by.startswith(f"{self.name[:64]}#", autoescape=True),
                    outbox.c.claimed_by != self.claimer,
                )
                .values(claimed_by=None, claimed_until=None)
            )
        if released.rowcount:
            log.warning(
                "outbox: %d notifications claimed by an earlier run of %s are delivered again",
                released.rowcount,
                self.name,
            )

    async def _start_live_feed(self) -> None:
        async with self._db.read() as conn:
            newest = (await conn.execute(sa.select(sa.func.max(outbox.c.id)))).scalar()
            self._cursor = int(newest or 0)
            # Transactions of other hubs still open now may commit ids below the newest.
            present = {
                int(i)
                for i in (
                    await conn.execute(
                        sa.select(outbox.c.id).where(outbox.c.id > self._cursor - _START_LOOKBACK)
                    )
                ).scalars()
            }
        now = time.monotonic()
        low = max(1, self._cursor - _START_LOOKBACK + 1)
        self._gaps = {i: now for i in range(low, self._cursor + 1) if i not in present}

    # -- delivery -------------------------------------------------------------

    async def _claim_rows(self, limit: int) -> list[_Claimed]:
        now = self.clock.now()
        async with self._db.write() as conn:
            pick = sa.select(outbox.c.id).where(_due(now)).order_by(outbox.c.id).limit(limit)
            if conn.dialect.name == "postgresql":
                # Rows another hub is claiming right now are skipped, not waited for.
                pick = pick.with_for_update(skip_locked=True)
            ids = [int(i) for i in (await conn.execute(pick)).scalars()]
            if not ids:
                return []
            rows = await conn.execute(
                outbox.update()
                .where(outbox.c.id.in_(ids), _due(now))  # re-checked: SQLite's SELECT is not locked
                .values(
                    claimed_by=self.claimer,
                    claimed_until=now + self._claim,
                    attempts=outbox.c.attempts + 1,
                )
                .returning(
                    outbox.c.id,
                    outbox.c.notification_id,
                    outbox.c.payload,
                    outbox.c.attempts,
                    outbox.c.delivered_to,
                )
            )
            claimed = [
                _Claimed(
                    int(r.id),
                    r.notification_id,
                    r.payload,
                    int(r.attempts),
                    tuple(r.delivered_to or ()),
                )
                for r in rows
            ]
        claimed.sort(key=lambda c: c.row_id)
        self.stats.redelivered += sum(1 for c in claimed if c.attempts > 1)
        return claimed

    async def _deliver(self, row: _Claimed) -> _Result:
        notification = _parse(row.row_id, row.payload)
        if notification is None:
            self.stats.unreadable += 1
            return _Result(row.row_id, row.attempts, row.delivered_to, "unreadable payload")
        try:
            delivery = await self.hub.deliver(notification, row.delivered_to)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the guard's resident lookup: the store is unavailable
            log.exception("delivering notification %s failed", notification.id)
            return _Result(
                row.row_id, row.attempts, row.delivered_to, f"{type(exc).__name__}: {exc}"
            )
        error = "; ".join(f"{name}: {err}" for name, err in delivery.failed.items()) or None
        return _Result(row.row_id, row.attempts, row.delivered_to + delivery.delivered_to, error)

    async def _record(self, results: Sequence[_Result]) -> None:
        if not results:
            return
        now = self.clock.now()
        delivered = [
            {"row_id": r.row_id, "to": list(r.delivered_to)} for r in results if r.error is None
        ]
        async with self._db.write() as conn:
            if delivered:
                # Marked even if the claim ran out meanwhile: it was delivered.
                await conn.execute(
                    outbox.update()
                    .where(outbox.c.id == sa.bindparam("row_id"), outbox.c.delivered_at.is_(None))
                    .values(
                        delivered_at=now,
                        delivered_to=sa.bindparam("to", type_=outbox.c.delivered_to.type),
                    ),
                    delivered,
                )
            for r in results:
                if r.error is None:
                    continue
                await conn.execute(
                    outbox.update()
                    .where(
                        outbox.c.id == r.row_id,
                        outbox.c.delivered_at.is_(None),
                        outbox.c.claimed_by == self.claimer,
                    )
                    .values(
                        claimed_by=None,
                        claimed_until=now + _backoff(r.attempts),
                        delivered_to=list(r.delivered_to),
                        last_error=r.error[:_ERROR_CHARS],
                    )
                )
        for r in results:
            if r.error is None:
                self.stats.delivered += 1
            else:
                self.stats.failed += 1
                log.warning(
                    "outbox row %s: attempt %d failed (%s); retrying in %s",
                    r.row_id,
                    r.attempts,
                    r.error,
                    _backoff(r.attempts),
                )

    async def _settle_without_channels(self) -> int:
        """No channel but the live push: mark every due row delivered in one statement.

        Claiming each row, running the guard for nobody and marking it cost two
        write transactions a pass, competing with ingest for SQLite's one writer.
        The live feed reads the rows whatever their delivery state.
        """
        now = self.clock.now()
        async with self._db.write() as conn:
            settled = (
                await conn.execute(outbox.update().where(_due(now)).values(delivered_at=now))
            ).rowcount
        self.stats.delivered += settled
        return int(settled)

    async def deliver_due(self) -> int:
        """Deliver everything due now and wait for it (tests, tools); how many rows were tried."""
        if not self.hub.has_outside_channels():
            return await self._settle_without_channels()
        tried = 0
        while True:
            claimed = await self._claim_rows(self._batch)
            if not claimed:
                return tried
            await self._record(await asyncio.gather(*(self._deliver(r) for r in claimed)))
            tried += len(claimed)

    async def _pump(self) -> bool:
        """Record finished deliveries, claim more and start them; True if more may be due."""
        if self._results:
            results, self._results = self._results, []
            try:
                await self._record(results)
            except BaseException:
                self._results = results + self._results  # recorded on the next pass
                raise
        await self._purge_if_due()
        if not self.hub.has_outside_channels() and not self._in_flight:
            await self._settle_without_channels()
            return False
        room = self._max_in_flight - len(self._in_flight)
        if room <= 0:
            return False
        limit = min(room, self._batch)
        claimed = await self._claim_rows(limit)
        for row in claimed:
            self._in_flight[row.row_id] = asyncio.create_task(
                self._deliver_in_background(row), name=f"outbox-{row.notification_id}"
            )
        return len(claimed) == limit

    async def _deliver_in_background(self, row: _Claimed) -> None:
        try:
            result = await self._deliver(row)
            # Not self._results.append(await ...): that binds the list before the await,
            # and _pump may have swapped it out (and recorded it) meanwhile.
            self._results.append(result)
        finally:
            self._in_flight.pop(row.row_id, None)
            self._deliver_wake.set()  # the loop records it

    # -- live feed ------------------------------------------------------------

    async def tail(self) -> int:
        """Push rows new to this process (any hub's) to its live streams; how many were pushed."""
        if not self._started:
            await self.start()
        pushed = 0
        now = time.monotonic()
        for gap, since in list(self._gaps.items()):
            if now - since > self._gap_wait_s:
                del self._gaps[gap]  # rolled back (or committed too late for the live push)
        if self._gaps:
            wanted = sorted(self._gaps)
            late: list[tuple[int, Any]] = []
            async with self._db.read() as conn:
                for start in range(0, len(wanted), 500):
                    found = await conn.execute(
                        sa.select(outbox.c.id, outbox.c.payload)
                        .where(outbox.c.id.in_(wanted[start : start + 500]))
                        .order_by(outbox.c.id)
                    )
                    late += [(int(r.id), r.payload) for r in found]
            for row_id, payload in late:
                del self._gaps[row_id]
                self.stats.late_live += 1
                pushed += await self._push(row_id, payload)
        while True:
            async with self._db.read() as conn:
                rows = (
                    await conn.execute(
                        sa.select(outbox.c.id, outbox.c.payload)
                        .where(outbox.c.id > self._cursor)
                        .order_by(outbox.c.id)
                        .limit(self._batch)
                    )
                ).all()
            for row in rows:
                row_id = int(row.id)
                # Ids skipped over may belong to transactions that commit later.
                for missing in range(max(self._cursor + 1, row_id - _MAX_GAPS), row_id):
                    self._gaps[missing] = now
                self._cursor = row_id
                pushed += await self._push(row_id, row.payload)
            if len(self._gaps) > _MAX_GAPS:
                for gap in sorted(self._gaps)[: len(self._gaps) - _MAX_GAPS]:
                    del self._gaps[gap]
            if len(rows) < self._batch:
                return pushed

    async def _push(self, row_id: int, payload: Any) -> int:
        notification = _parse(row_id, payload)
        if notification is None:
            self.stats.unreadable += 1
            return 0
        try:
            if not await self.hub.push_live(notification):
                return 0
        except asyncio.CancelledError:
            raise
        except Exception:  # the guard's resident lookup: never stop the feed for one row
            log.exception("live push of notification %s failed", notification.id)
            return 0
        self.stats.pushed_live += 1
        return 1

    # -- upkeep ---------------------------------------------------------------

    async def purge(self) -> int:
        """Delete rows made more than ``keep_days`` ago; how many."""
        now = self.clock.now()
        cutoff = now - self._keep
        async with self._db.write() as conn:
            stale = outbox.c.created_at < cutoff
            given_up = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(outbox)
                    .where(stale, outbox.c.delivered_at.is_(None))
                )
            ).scalar_one()
            removed = (await conn.execute(outbox.delete().where(stale))).rowcount
            # The channels' outcomes per recipient go with their notifications.
            await conn.execute(deliveries.delete().where(deliveries.c.at < cutoff))
        self._last_purge = now
        if given_up:
            log.error(
                "outbox: %d notifications were never delivered within %s; given up",
                given_up,
                self._keep,
            )
        self.stats.purged += removed
        self.stats.given_up += int(given_up)
        return int(removed)

    async def _purge_if_due(self) -> None:
        last = self._last_purge
        if last is None or self.clock.now() - last >= timedelta(seconds=_PURGE_EVERY_S):
            await self.purge()

    # -- loops ----------------------------------------------------------------

    async def run(self) -> None:
        """Both loops, until ``aclose`` (or cancellation)."""
        self._running.clear()
        self._stopped.clear()
        self._running.set()
        try:
            while not self._started and not self._closing:
                try:
                    await self.start()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("outbox relay could not start; retrying")
                    await asyncio.sleep(self._poll_s * 4)
            loops = [self._loop("live feed", self._tail_more, self._live_wake)]
            if self.delivers:
                loops.append(self._loop("delivery", self._pump, self._deliver_wake))
            await asyncio.gather(*loops)
        finally:
            self._stopped.set()

    async def _tail_more(self) -> bool:
        self._tails_begun += 1
        number = self._tails_begun
        try:
            await self.tail()
        finally:
            self._tail_finished = number
            self._tail_done.set()
        return False

    async def _loop(
        self, what: str, step: Callable[[], Awaitable[bool]], wake: asyncio.Event
    ) -> None:
        delay = self._poll_s
        while not self._closing:
            wake.clear()  # before the step: a poke during it runs the next one at once
            try:
                more = await step()
                delay = self._poll_s
            except asyncio.CancelledError:
                raise
            except Exception:  # the store may be briefly unavailable; keep the loop alive
                log.exception("outbox %s failed", what)
                more, delay = False, min(delay * 2, 10.0)
            if more or self._closing:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), delay)

    def status(self) -> dict[str, object]:
        """For /healthz."""
        return {**asdict(self.stats), "in_flight": len(self._in_flight), "gaps": len(self._gaps)}

    async def aclose(self, timeout_s: float = 5.0) -> None:
        """Stop: the loops end between two steps (not in the middle of a transaction),
        deliveries in flight get ``timeout_s`` to finish (the rest are cancelled: their
        claims run out and they are delivered again), and what finished is recorded, so a
        clean stop delivers nothing twice. Cancelling ``run`` afterwards is harmless."""
        self._closing = True
        self.poke()
        if self._running.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout_s)
        tasks = list(self._in_flight.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=timeout_s)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        results, self._results = self._results, []
        if results:
            try:
                await asyncio.wait_for(self._record(results), timeout_s)
            except Exception:
                log.exception("outbox: recording %d deliveries at stop failed", len(results))
