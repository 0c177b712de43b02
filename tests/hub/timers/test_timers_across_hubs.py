"""Several hubs' schedulers on one PostgreSQL database fire each stored timer exactly once.

Each scheduler has its own engine (its own connections), as separate hub
processes would; they tick concurrently, so they race for the same due timers
and the database decides. The reference is one scheduler alone on an identical
copy of the database: three together must tell exactly the same people the
same things, no more.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from device_adapters.model import DeviceFamily
from hub.ingest.flows import store_batch
from hub.notifications.base import Notification
from hub.schema.devices import devices
from hub.schema.timers import timers
from hub.storage.db import Database
from hub.timer_kinds import timer_kinds
from hub.timers import service as timers_service
from hub.timers.scheduler import Scheduler
from tests.support.hubdata import wristband_event
from tests.support.postgres import PostgresServer

# Monday 10:00 in Shanghai: the day shift is on duty.
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
# Every escalation chain of the shipped rules has ended by then (120+120+180+300+600 s).
CHAIN_S = 1500


@dataclass
class FakeClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


def _seeded_copy(server: PostgresServer) -> Iterator[str]:
    with server.fresh_database(template=server.seeded_template()) as url:
        yield url


@pytest.fixture
def db_url(postgres_server: PostgresServer) -> Iterator[str]:
    yield from _seeded_copy(postgres_server)


@pytest.fixture
def reference_url(postgres_server: PostgresServer) -> Iterator[str]:
    yield from _seeded_copy(postgres_server)


@pytest.fixture
async def hubs(db_url: str) -> AsyncIterator[list[Database]]:
    """Three handles on one database, one engine each, as three hub processes have."""
    handles = [Database.open(db_url) for _ in range(3)]
    yield handles
    for handle in handles:
        await handle.close()


async def _sos_from_every_wearer(db: Database) -> list[int]:
    async with db.write() as conn:
        wearers = [
            str(r.id).split(":", 1)[1]
            for r in await conn.execute(
                sa.select(devices.c.id)
                .where(
                    devices.c.family == DeviceFamily.WRISTBAND.value,
                    devices.c.resident_id.is_not(None),
                )
                .order_by(devices.c.id)
            )
        ]
        events = [wristband_event(w, "wristband.sos", received_at=T0) for w in wearers]
        outcome = await store_batch(conn, events, [], T0)
    return sorted(t.ticket_id for t in outcome.tickets_opened)


def _what(note: Notification) -> tuple[object, ...]:
    """A notification without its random id and wall-clock time."""
    return (
        note.kind,
        note.ticket_id,
        tuple(sorted(note.recipients.user_ids)),
        tuple(sorted(r.value for r in note.recipients.roles)),
        tuple(c.phone for c in note.contacts),
    )


async def _run_chain(schedulers: list[Scheduler], clock: FakeClock) -> None:
    for second in range(0, CHAIN_S, 10):
        clock.at = T0 + timedelta(seconds=second)
        await asyncio.gather(*(s.tick() for s in schedulers))


async def _fired_timers(db: Database) -> list[tuple[str, str | None]]:
    async with db.read() as conn:
        rows = await conn.execute(
            sa.select(timers.c.key, timers.c.fired_by).where(timers.c.fired_at.is_not(None))
        )
        return [(r.key, r.fired_by) for r in rows]


async def test_three_schedulers_fire_every_due_timer_exactly_once(
    hubs: list[Database], reference_url: str
) -> None:
    tickets = await _sos_from_every_wearer(hubs[0])
    assert len(tickets) >= 3, "the demo seeds several wearers"

    # One scheduler alone, on an identical copy: what should be said, once each.
    reference = Database.open(reference_url)
    try:
        assert await _sos_from_every_wearer(reference) == tickets
        alone: list[Notification] = []
        clock = FakeClock(T0)
        await _run_chain(
            [Scheduler(reference, alone.append, kinds=timer_kinds(), clock=clock)], clock
        )
        expected_fired = sorted(key for key, _ in await _fired_timers(reference))
    finally:
        await reference.close()
    assert any(n.kind == "ticket.escalation_exhausted" for n in alone), "chains ran to the end"

    heard: list[Notification] = []
    clock = FakeClock(T0)
    schedulers = [
        Scheduler(db, heard.append, kinds=timer_kinds(), clock=clock, name=f"hub-{n}")
        for n, db in enumerate(hubs)
    ]
    await _run_chain(schedulers, clock)

    assert Counter(map(_what, heard)) == Counter(map(_what, alone))
    fired = await _fired_timers(hubs[0])
    assert sorted(key for key, _ in fired) == expected_fired
    assert sum(s.stats.fired for s in schedulers) == len(fired)
    assert all(s.stats.failed == 0 for s in schedulers)
    # They did race: the work was shared (or skipped), not done by one while the others idled.
    assert len({by for _, by in fired}) > 1 or sum(s.stats.skipped for s in schedulers) > 0


async def test_a_timer_held_by_a_hub_that_dies_is_fired_by_another(hubs: list[Database]) -> None:
    await _sos_from_every_wearer(hubs[0])
    first_step = T0 + timedelta(seconds=60)
    heard: list[Notification] = []
    clock = FakeClock(first_step)
    survivors = [
        Scheduler(db, heard.append, kinds=timer_kinds(), clock=clock, name=f"hub-{n}")
        for n, db in enumerate(hubs[1:])
    ]

    # The doomed hub claims the ticket's first escalation timer and stops mid-work.
    doomed = hubs[0].engine.connect()
    conn = await doomed.start()
    transaction = await conn.begin()
    async with hubs[0].read() as reader:
        due = await timers_service.due(reader, first_step, 100)
    held = next(t for t in due if t.key.startswith("esc:"))  # esc:<ticket>:<step>:<attempt>
    ticket_id = int(held.key.split(":")[1])
    assert await timers_service.claim(conn, held, first_step, "doomed")

    await asyncio.gather(*(s.tick() for s in survivors))
    assert sum(s.stats.skipped for s in survivors) >= 1  # skipped while held, not waited for
    assert held.key not in {key for key, _ in await _fired_timers(hubs[1])}

    # Its connection drops without a commit, as when the process is killed: rolled back.
    await conn.invalidate()
    await transaction.rollback()
    await doomed.close()
    await asyncio.gather(*(s.tick() for s in survivors))
    fired_by = dict(await _fired_timers(hubs[1]))
    assert fired_by[held.key] in {"hub-0", "hub-1"}
    reminders = [n for n in heard if n.ticket_id == ticket_id and n.kind == "ticket.reminder"]
    assert len(reminders) == 1
