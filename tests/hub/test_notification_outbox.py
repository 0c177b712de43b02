"""The notification outbox on a real SQLite file and a real PostgreSQL database.

Stored in the producer's transaction (nothing from a rollback), delivered once,
retried per channel with back-off, delivered again with the same id after a
sender died holding its claim, exactly once with two senders on one database,
and the live push fed on every hub, once, even when ids commit out of order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from device_adapters.model import Severity
from hub.ingest.flows import BatchOutcome, store_batch
from hub.notifications.base import Notification, NotificationHub, Recipients
from hub.notifications.live import LiveNotifier, Subscription
from hub.notifications.outbox import OutboxRelay, enqueue
from hub.notifications.service import residents_in
from hub.notifications.wakeup import listen_for_notifications, listens
from hub.schema.notifications import notification_outbox as outbox
from hub.storage.db import Database
from hub.timer_kinds import timer_kinds
from hub.timers.scheduler import Scheduler
from hub.users.models import Role, UserPublic
from tests.support.hubdata import open_seeded_db, user_id_of, wristband_event
from tests.support.postgres import PostgresServer

VOLUNTEER = UserPublic(id=5, username="v", full_name="V", role=Role.VOLUNTEER)


@dataclass
class FakeClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


@dataclass
class Store:
    db: Database
    url: str
    dialect: str

    def another_process(self) -> Database:
        """A second engine on the same database, as another hub process has."""
        return Database.open(self.url)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        db = await open_seeded_db(tmp_path)
        yield Store(db, str(db.engine.url), "sqlite")
        await db.close()
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with server.fresh_database(template=server.seeded_template()) as url:
        db = Database.open(url)
        yield Store(db, url, "postgresql")
        await db.close()


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    with postgres_server.fresh_database(template=postgres_server.seeded_template()) as url:
        yield url


class Recorder:
    def __init__(self, delay_s: float = 0.0) -> None:
        self.seen: list[Notification] = []
        self._delay_s = delay_s

    async def notify(self, notification: Notification) -> None:
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        self.seen.append(notification)


class Flaky:
    """Fails its first ``failures`` calls, like a provider that is down for a while."""

    def __init__(self, failures: int) -> None:
        self.calls = 0
        self._failures = failures

    async def notify(self, notification: Notification) -> None:
        self.calls += 1
        if self.calls <= self._failures:
            raise ConnectionError(f"provider down (call {self.calls})")


class Hangs:
    """Takes the notification and never returns: the sender dies before it can mark it."""

    def __init__(self) -> None:
        self.seen: list[Notification] = []
        self.got = asyncio.Event()

    async def notify(self, notification: Notification) -> None:
        self.seen.append(notification)
        self.got.set()
        await asyncio.Event().wait()


def _note(title: str, **recipients: object) -> Notification:
    return Notification(
        kind="ticket.assigned",
        title=title,
        recipients=Recipients.model_validate(recipients or {"user_ids": (VOLUNTEER.id,)}),
        severity=Severity.CRITICAL,
    )


async def _commit(db: Database, notes: list[Notification]) -> None:
    async with db.write() as conn:
        await enqueue(conn, notes)


async def _rows(db: Database) -> list[sa.Row[tuple[object, ...]]]:
    async with db.read() as conn:
        return list((await conn.execute(sa.select(outbox).order_by(outbox.c.id))).all())


def _pushed_ids(sub: Subscription) -> list[str]:
    """Notification ids in the frames a live subscription holds (taking them)."""
    ids = []
    for frame in sub.take():
        data = next(line for line in frame.split("\n") if line.startswith("data: "))
        ids.append(json.loads(data.removeprefix("data: "))["id"])
    return ids


async def _until_pushed(sub: Subscription, timeout_s: float) -> list[str]:
    """Wait for the first frames on a subscription; the ids they carry."""
    await asyncio.wait_for(sub.wait(timeout_s), timeout_s)
    return _pushed_ids(sub)


async def _stop(task: asyncio.Task[None], relay: OutboxRelay) -> None:
    """A clean stop, as the hub's shutdown does."""
    await relay.aclose()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _kill(task: asyncio.Task[None], relay: OutboxRelay) -> None:
    """As kill -9: the loops and the deliveries in flight end where they are."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await relay.aclose(timeout_s=0)  # cancels what is in flight; nothing finished to record


async def test_a_rolled_back_transaction_leaves_nothing_to_deliver(store: Store) -> None:
    seen = Recorder()
    relay = OutboxRelay(store.db, NotificationHub([seen]))
    with pytest.raises(RuntimeError, match="the producer failed"):
        async with store.db.write() as conn:
            await enqueue(conn, [_note("never")])
            raise RuntimeError("the producer failed after storing its notification")
    assert await relay.deliver_due() == 0
    assert seen.seen == [] and await _rows(store.db) == []


async def test_a_committed_notification_is_delivered_once(store: Store) -> None:
    seen = Recorder()
    relay = OutboxRelay(store.db, NotificationHub([LiveNotifier(), seen]), name="hub-a")
    note = _note("SOS: Sun Lihua")
    await _commit(store.db, [note])

    assert await relay.deliver_due() == 1
    assert await relay.deliver_due() == 0  # delivered rows are not claimed again
    assert seen.seen == [note]  # the same notification, id included, read back from the store
    [row] = await _rows(store.db)
    assert row.notification_id == note.id and row.delivered_at is not None
    assert (row.attempts, row.delivered_to, row.last_error) == (1, ["Recorder"], None)
    assert row.claimed_by.startswith("hub-a#")
    assert relay.stats.delivered == 1


async def test_without_an_outside_channel_due_rows_are_settled_in_one_statement(
    store: Store,
) -> None:
    """No webhook configured: nothing is claimed; the live feed still reads every row."""
    clock = FakeClock(datetime.now(UTC))
    live = LiveNotifier()
    relay = OutboxRelay(store.db, NotificationHub([live]), name="hub-a", clock=clock)
    await relay.start()
    sub = live.subscribe(VOLUNTEER)
    notes = [_note(f"note {i}") for i in range(3)]
    await _commit(store.db, notes)
    # Another hub holds a claim on the last one: that hub's to deliver while it lasts.
    async with store.db.write() as conn:
        await conn.execute(
            outbox.update()
            .where(outbox.c.notification_id == notes[2].id)
            .values(claimed_by="hub-b#1", claimed_until=clock.at + timedelta(seconds=30))
        )
    assert await relay.deliver_due() == 2
    rows = await _rows(store.db)
    assert [r.delivered_at is not None for r in rows] == [True, True, False]
    assert all(r.attempts == 0 and r.claimed_by is None for r in rows[:2])  # never claimed
    assert await relay.deliver_due() == 0
    clock.at += timedelta(seconds=31)  # the other hub's claim ran out: due here now
    assert await relay.deliver_due() == 1 and relay.stats.delivered == 3
    assert await relay.tail() == 3 and _pushed_ids(sub) == [n.id for n in notes]

    # The same through the relay's own loop, woken by a commit in this process.
    running = asyncio.create_task(relay.run())
    try:
        late = _note("committed while the relay runs")
        await _commit(store.db, [late])
        relay.poke()
        assert await _until_pushed(sub, 2.0) == [late.id]
        deadline = time.monotonic() + 5
        while (await _rows(store.db))[-1].delivered_at is None:
            assert time.monotonic() < deadline, "the relay never settled the new row"
            await asyncio.sleep(0.05)
    finally:
        await _stop(running, relay)


async def test_a_failing_channel_is_retried_with_back_off_and_alone(store: Store) -> None:
    clock = FakeClock(datetime.now(UTC))
    flaky, steady = Flaky(failures=2), Recorder()
    relay = OutboxRelay(store.db, NotificationHub([flaky, steady]), clock=clock)
    note = _note("fire alarm")
    await _commit(store.db, [note])

    assert await relay.deliver_due() == 1  # attempt 1: Flaky fails, Recorder takes it
    [row] = await _rows(store.db)
    assert row.delivered_at is None and row.attempts == 1
    assert "Flaky: ConnectionError: provider down (call 1)" in row.last_error
    assert row.delivered_to == ["Recorder"] and row.claimed_by is None
    assert row.claimed_until == clock.at + timedelta(seconds=1)
    assert await relay.deliver_due() == 0  # backing off

    clock.at += timedelta(seconds=1)
    assert await relay.deliver_due() == 1  # attempt 2 fails; the next waits 2 s
    clock.at += timedelta(seconds=1)
    assert await relay.deliver_due() == 0
    clock.at += timedelta(seconds=1)
    assert await relay.deliver_due() == 1  # attempt 3 succeeds

    [row] = await _rows(store.db)
    assert row.delivered_at == clock.at and row.attempts == 3
    assert row.delivered_to == ["Recorder", "Flaky"]
    assert flaky.calls == 3 and steady.seen == [note]  # the one that took it is not asked again
    assert (relay.stats.failed, relay.stats.delivered, relay.stats.redelivered) == (2, 1, 2)


class Picky:
    """A channel that refuses one notification, hangs on another and takes the rest."""

    def __init__(self, refuses: str, hangs_on: str) -> None:
        self.seen: list[str] = []
        self._refuses, self._hangs_on = refuses, hangs_on

    async def notify(self, notification: Notification) -> None:
        if notification.title == self._refuses:
            raise ConnectionError("provider refused it")
        if notification.title == self._hangs_on:
            await asyncio.Event().wait()
        self.seen.append(notification.title)


async def test_a_notification_its_channel_fails_or_hangs_on_holds_up_none_behind_it(
    store: Store,
) -> None:
    channel = Picky(refuses="first", hangs_on="second")
    live = LiveNotifier()
    relay = OutboxRelay(store.db, NotificationHub([live, channel]), poll_s=5.0)
    await relay.start()
    sub = live.subscribe(VOLUNTEER)
    notes = [_note(title) for title in ("first", "second", "third", "fourth")]
    await _commit(store.db, notes)
    running = asyncio.create_task(relay.run())
    try:
        relay.poke()
        deadline = time.monotonic() + 30  # a bound for the test to end, not a speed asserted
        while [r.delivered_at is not None for r in await _rows(store.db)][2:] != [True, True]:
            assert time.monotonic() < deadline, "the notifications behind were held up"
            await asyncio.sleep(0.05)
        assert channel.seen == ["third", "fourth"]
        first, second, *_ = await _rows(store.db)
        assert first.delivered_at is None and "provider refused it" in first.last_error
        assert second.delivered_at is None  # still in the channel's hands
        assert _pushed_ids(sub) == [n.id for n in notes]  # the live push, every one
    finally:
        await relay.aclose(timeout_s=0.1)  # the hung delivery is cut off
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def _die_while_delivering(db: Database, clock: FakeClock, name: str) -> Notification:
    """A sender claims a notification, hands it to its channel, and is killed before marking."""
    channel = Hangs()
    relay = OutboxRelay(db, NotificationHub([channel]), name=name, clock=clock)
    await relay.start()
    running = asyncio.create_task(relay.run())
    note = _note("SOS: Zhou")
    await _commit(db, [note])
    relay.poke()
    await asyncio.wait_for(channel.got.wait(), 5)
    await _kill(running, relay)  # its delivery is cut off: nothing is marked
    assert channel.seen == [note]
    return note


async def test_a_claim_left_by_a_dead_sender_is_delivered_again_with_the_same_id(
    store: Store,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    crashed = store.another_process()
    try:
        note = await _die_while_delivering(crashed, clock, "hub-a")
    finally:
        await crashed.close()
    [row] = await _rows(store.db)
    assert row.delivered_at is None and row.attempts == 1 and row.claimed_by.startswith("hub-a#")

    seen = Recorder()
    other = OutboxRelay(store.db, NotificationHub([seen]), name="hub-b", clock=clock, claim_s=30)
    await other.start()  # another hub's claim is not its to take back
    clock.at += timedelta(seconds=29)
    assert await other.deliver_due() == 0, "the claim still holds"
    clock.at += timedelta(seconds=1)
    assert await other.deliver_due() == 1
    assert [n.id for n in seen.seen] == [note.id]  # at least once, same id: receivers dedupe
    [row] = await _rows(store.db)
    assert row.delivered_at is not None and row.attempts == 2
    assert other.stats.redelivered == 1


async def test_a_hub_restarted_under_its_name_takes_its_claims_back_at_once(
    store: Store,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    crashed = store.another_process()
    try:
        note = await _die_while_delivering(crashed, clock, "hub-a")
    finally:
        await crashed.close()
    seen = Recorder()
    # A hub named "hub" must not mistake "hub-a"'s claims for its own.
    unrelated = OutboxRelay(store.db, NotificationHub([seen]), name="hub", clock=clock)
    await unrelated.start()
    assert await unrelated.deliver_due() == 0

    restarted = OutboxRelay(store.db, NotificationHub([seen]), name="hub-a", clock=clock)
    await restarted.start()
    assert await restarted.deliver_due() == 1  # no wait for the claim to run out
    assert [n.id for n in seen.seen] == [note.id]


async def test_the_silent_alarm_guard_runs_at_delivery(store: Store) -> None:
    resident = await user_id_of(store.db, "resident.sun")
    staff = await user_id_of(store.db, "staff")
    seen = Recorder()
    relay = OutboxRelay(store.db, NotificationHub([seen], residents=residents_in(store.db)))
    duress = _note("duress", user_ids=(resident, staff), roles=(Role.RESIDENT,))
    only_residents = _note("duress 2", user_ids=(resident,))
    await _commit(
        store.db,
        [n.model_copy(update={"silent": True}) for n in (duress, only_residents)],
    )
    assert await relay.deliver_due() == 2
    [told] = seen.seen  # the second one had nobody left: not sent, and not retried
    assert told.id == duress.id and told.recipients.user_ids == (staff,)
    assert told.recipients.roles == ()
    assert all(r.delivered_at is not None for r in await _rows(store.db))


async def test_a_row_that_is_no_notification_is_reported_and_stops_nothing(
    store: Store,
) -> None:
    seen = Recorder()
    live = LiveNotifier()
    relay = OutboxRelay(store.db, NotificationHub([live, seen]))
    await relay.start()
    sub = live.subscribe(VOLUNTEER)
    async with store.db.write() as conn:
        await conn.execute(
            outbox.insert().values(
                notification_id="broken",
                created_at=datetime.now(UTC),
                payload={"kind": 5},
                delivered_to=[],
            )
        )
    good = _note("after the broken one")
    await _commit(store.db, [good])
    assert await relay.deliver_due() == 2
    assert seen.seen == [good]
    broken, fine = await _rows(store.db)
    assert broken.delivered_at is None and broken.last_error == "unreadable payload"
    assert fine.delivered_at is not None
    assert await relay.tail() == 1 and _pushed_ids(sub) == [good.id]
    assert relay.stats.unreadable == 2  # once by the sender, once by the live feed


async def test_old_rows_are_purged_and_ids_are_never_reused(store: Store) -> None:
    clock = FakeClock(datetime.now(UTC))
    live = LiveNotifier()
    relay = OutboxRelay(store.db, NotificationHub([live, Flaky(99)]), clock=clock, keep_days=3)
    await relay.start()
    sub = live.subscribe(VOLUNTEER)
    old = [_note("old 1"), _note("old 2")]
    await _commit(store.db, old)
    assert await relay.tail() == 2 and _pushed_ids(sub) == [n.id for n in old]
    await relay.deliver_due()  # Flaky never takes them: undelivered
    newest_id = max(r.id for r in await _rows(store.db))

    clock.at += timedelta(days=3, minutes=1)
    assert await relay.purge() == 2
    assert relay.stats.given_up == 2 and await _rows(store.db) == []
    # With every row gone, SQLite without AUTOINCREMENT would hand out id 1 again, and a
    # hub tailing by id would never push it.
    fresh = _note("after the purge")
    await _commit(store.db, [fresh])
    [row] = await _rows(store.db)
    assert row.id > newest_id
    assert await relay.tail() == 1 and _pushed_ids(sub) == [fresh.id]


@asynccontextmanager
async def _live_relay(
    store: Store, **options: float
) -> AsyncIterator[tuple[OutboxRelay, Subscription]]:
    """A running relay with only the live push (it polls once an hour: only a poke wakes
    it in a test) and a volunteer's subscription to it; stopped cleanly at the end."""
    live = LiveNotifier()
    relay = OutboxRelay(store.db, NotificationHub([live]), poll_s=3600.0, **options)
    await relay.start()
    running = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.1)  # the loops are waiting
        yield relay, live.subscribe(VOLUNTEER)
    finally:
        await _stop(running, relay)


async def test_a_commit_in_this_process_reaches_its_live_push_at_once(store: Store) -> None:
    """The local path: the producer pokes, no poll is waited for (the relay polls hourly)."""
    async with _live_relay(store) as (relay, sub):
        note = _note("SOS: Sun Lihua")
        await _commit(store.db, [note])
        relay.poke()
        # Only the poke can wake it: the bound lets the test end, it is no speed asserted.
        assert await _until_pushed(sub, 30.0) == [note.id]


async def test_ingest_goes_on_only_once_its_notifications_are_pushed_live(store: Store) -> None:
    """after_ingest returns when the live feed has pushed the batch's notifications,
    so the next telemetry batch cannot hold the loop before an SOS reaches a screen.

    The hub gives the wait a 0.25 s budget, which a busy host can exceed; a budget of
    a minute here makes the outcome depend on what the relay does, not on its speed."""
    async with _live_relay(store, live_first_s=60.0) as (relay, sub):
        note = _note("SOS: Sun Lihua")
        await _commit(store.db, [note])
        await relay.after_ingest(BatchOutcome(notifications=[note]))
        # No wait of the test's own: the frame is there when ingest would go on.
        assert _pushed_ids(sub) == [note.id]
        assert relay.stats.live_first_timeouts == 0
        # A batch with nothing to tell does not wait for the feed at all.
        await relay.after_ingest(BatchOutcome())
        assert _pushed_ids(sub) == []
    # A relay that is not running never holds ingest up: it would have waited out its
    # minute and counted a timeout.
    await _commit(store.db, [_note("after the stop")])
    await relay.after_ingest(BatchOutcome(notifications=[_note("after the stop")]))
    assert relay.stats.live_first_timeouts == 0


async def test_timer_notifications_are_stored_with_the_timers_work(tmp_path: Path) -> None:
    db = await open_seeded_db(tmp_path)
    try:
        # Monday 10:00 in Shanghai: an SOS's chain starts with the primary, reminded at 60 s.
        t0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
        async with db.write() as conn:
            sos = wristband_event("8800000101", "wristband.sos", received_at=t0)
            await store_batch(conn, [sos], [], t0)
        told: list[Notification] = []
        scheduler = Scheduler(
            db, told.append, kinds=timer_kinds(), clock=FakeClock(t0 + timedelta(seconds=60))
        )
        assert await scheduler.tick() >= 1
        assert [n.kind for n in told] == ["ticket.reminder"]
        assert [r.notification_id for r in await _rows(db)] == [n.id for n in told]
    finally:
        await db.close()


# --- Several hubs on one PostgreSQL database.


async def test_two_senders_on_one_database_deliver_each_notification_once(pg_url: str) -> None:
    dbs = [Database.open(pg_url) for _ in range(2)]
    channels = [Recorder(delay_s=0.005), Recorder(delay_s=0.005)]
    relays = [
        OutboxRelay(db, NotificationHub([channel]), name=f"hub-{n}", poll_s=0.02)
        for n, (db, channel) in enumerate(zip(dbs, channels, strict=True))
    ]
    for relay in relays:
        await relay.start()
    running = [asyncio.create_task(relay.run()) for relay in relays]
    try:
        sent: list[str] = []
        for batch in range(40):
            notes = [_note(f"n{batch}-{i}") for i in range(5)]
            sent += [n.id for n in notes]
            await _commit(dbs[batch % 2], notes)
            relays[batch % 2].poke()
            relays[(batch + 1) % 2].poke()  # both race for every batch
        for _ in range(600):  # up to 30 s
            if sum(len(c.seen) for c in channels) >= len(sent):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # a second delivery would show up by now
    finally:
        for task, relay in zip(running, relays, strict=True):
            await _stop(task, relay)
    delivered = Counter(n.id for c in channels for n in c.seen)
    assert set(delivered) == set(sent)
    assert max(delivered.values()) == 1, "a notification was delivered twice"
    unmarked = [r for r in await _rows(dbs[0]) if r.attempts != 1 or r.delivered_at is None]
    assert not unmarked, unmarked[:3]
    assert all(relay.stats.delivered for relay in relays), "both senders took a share"
    for db in dbs:
        await db.close()


async def test_a_notification_committed_on_one_hub_is_pushed_live_on_the_other_once(
    pg_url: str,
) -> None:
    a_db, b_db = Database.open(pg_url), Database.open(pg_url)
    a_live, b_live = LiveNotifier(), LiveNotifier()
    a = OutboxRelay(a_db, NotificationHub([a_live]), name="hub-a", poll_s=5.0)
    b = OutboxRelay(b_db, NotificationHub([b_live]), name="hub-b")  # polls every 0.5 s
    for relay in (a, b):
        await relay.start()
    running = [asyncio.create_task(a.run()), asyncio.create_task(b.run())]
    try:
        await asyncio.sleep(0.1)  # the loops are waiting
        a_sub, b_sub = a_live.subscribe(VOLUNTEER), b_live.subscribe(VOLUNTEER)
        note = _note("SOS: Sun Lihua")
        await _commit(a_db, [note])
        a.poke()  # hub A committed it; hub B only polls
        assert await _until_pushed(a_sub, 2.0) == [note.id]
        assert await _until_pushed(b_sub, 3.0) == [note.id]
        await asyncio.sleep(1.2)  # two more polls of B, a poke of A: nothing again
        a.poke()
        await asyncio.sleep(0.1)
        assert _pushed_ids(a_sub) == [] and _pushed_ids(b_sub) == []
        assert (a.stats.pushed_live, b.stats.pushed_live) == (1, 1)
    finally:
        for task, relay in zip(running, (a, b), strict=True):
            await _stop(task, relay)
        await a_db.close()
        await b_db.close()


async def test_an_id_that_commits_after_a_higher_one_is_still_pushed_once(pg_url: str) -> None:
    """Sequence ids are taken at insert, visible at commit: id N+1 may be seen before N."""
    slow_db, fast_db, b_db = (Database.open(pg_url) for _ in range(3))
    b_live = LiveNotifier()
    b = OutboxRelay(b_db, NotificationHub([b_live]), name="hub-b", poll_s=0.1)
    await b.start()
    running = asyncio.create_task(b.run())
    try:
        sub = b_live.subscribe(VOLUNTEER)
        first, second = _note("slow transaction"), _note("fast transaction")
        async with slow_db.write() as slow:
            await enqueue(slow, [first])  # takes its id now, commits last
            await _commit(fast_db, [second])
            assert await _until_pushed(sub, 3.0) == [second.id]
            await asyncio.sleep(0.3)  # B has moved its cursor past the slow one's id
        assert await _until_pushed(sub, 3.0) == [first.id]
        await asyncio.sleep(0.5)
        assert _pushed_ids(sub) == []
        ids = {r.notification_id: r.id for r in await _rows(b_db)}
        assert ids[first.id] < ids[second.id], "the test needs the ids out of commit order"
        assert b.stats.late_live == 1
    finally:
        await _stop(running, b)
        for db in (slow_db, fast_db, b_db):
            await db.close()


async def test_a_commit_in_another_process_wakes_a_listening_relay_on_postgresql(
    pg_url: str,
) -> None:
    """An API worker's live feed polls rarely; PostgreSQL's NOTIFY, sent by the commit
    that stored the notification, is what wakes it (hub/notifications/wakeup.py)."""
    hub_db, worker_db = Database.open(pg_url), Database.open(pg_url)
    live, outside = LiveNotifier(), Recorder()
    # As an API worker runs it: the live feed only, and (here) a poll once an hour.
    worker = OutboxRelay(
        worker_db, NotificationHub([live, outside]), name="api-0", poll_s=3600.0, deliver=False
    )
    await worker.start()
    running = asyncio.create_task(worker.run())
    listening = asyncio.create_task(listen_for_notifications(pg_url, worker.poke))
    try:
        await asyncio.sleep(0.5)  # listening, the first poke past
        sub = live.subscribe(VOLUNTEER)
        note = _note("SOS: Sun Lihua")
        await _commit(hub_db, [note])  # the hub process: no poke reaches this relay
        # Only the NOTIFY can wake it: the bound lets the test end, no speed is asserted.
        assert await _until_pushed(sub, 30.0) == [note.id]
        # The worker delivers nothing outside: the hub process does that.
        [row] = await _rows(hub_db)
        assert row.delivered_at is None and outside.seen == []
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        await _stop(running, worker)
        await hub_db.close()
        await worker_db.close()


def test_only_postgresql_can_wake_other_processes() -> None:
    assert listens("postgresql+asyncpg://hub@db/hub")
    assert not listens("sqlite+aiosqlite:///hub.sqlite3")
