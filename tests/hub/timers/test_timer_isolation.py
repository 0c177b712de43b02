"""One failing timer never keeps the others from firing (a real, seeded SQLite file).

A timer whose handler raises is put off a minute with its error kept; the
timers due with it fire all the same, and so do they when the scheduler's
upkeep (arming welfare and report timers) fails, or when the callback told of
committed notifications raises. The scheduler's health times follow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hub.ingest.flows import store_batch
from hub.notifications.base import Notification
from hub.reports import schedule as reports_schedule
from hub.rules import conditions
from hub.schema.grid import communities
from hub.schema.timers import timers
from hub.storage.db import Database
from hub.timer_kinds import timer_kinds
from hub.timers import service as timers_service
from hub.timers.scheduler import Scheduler
from tests.support.hubdata import open_seeded_db, wristband_event

# Monday 10:00 in Shanghai: the day shift is on duty.
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
ZHOU = "8800000202"


@dataclass
class FakeClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_seeded_db(tmp_path)
    yield database
    await database.close()


async def _schedule(db: Database, key: str, kind: str, due_at: datetime, **payload: Any) -> None:
    async with db.write() as conn:
        await timers_service.schedule(conn, key, kind, due_at, payload, T0)


async def _broken_timer(db: Database, key: str = "cond:broken", due_at: datetime = T0) -> None:
    """A condition timer without its rule id (a payload an older hub might have left)."""
    await _schedule(db, key, conditions.TIMER_KIND, due_at)


async def _timer(db: Database, key: str) -> Any:
    async with db.read() as conn:
        return (await conn.execute(sa.select(timers).where(timers.c.key == key))).one()


async def _sos(db: Database) -> None:
    """An SOS at T0: its escalation reminds the volunteer on duty at T0 + 60 s."""
    async with db.write() as conn:
        await store_batch(conn, [wristband_event(ZHOU, "wristband.sos", received_at=T0)], [], T0)


async def _community_id(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(sa.select(communities.c.id))).scalar_one())


async def test_a_timer_whose_handler_raises_does_not_stop_the_others_due_with_it(
    db: Database,
) -> None:
    await _sos(db)
    await _broken_timer(db, due_at=T0)  # due first: it is handled before the SOS's reminder
    await _schedule(db, "cond:gone", conditions.TIMER_KIND, T0, rule_id="no_such_rule")
    told: list[Notification] = []
    scheduler = Scheduler(
        db, told.append, kinds=timer_kinds(), clock=FakeClock(T0 + timedelta(seconds=60))
    )

    assert await scheduler.tick() >= 2
    assert scheduler.stats.failed == 1
    assert [n.kind for n in told] == ["ticket.reminder"]  # the SOS's escalation went on
    gone = await _timer(db, "cond:gone")
    assert gone.fired_at is not None and gone.outcome == "rule removed or disabled since"
    broken = await _timer(db, "cond:broken")
    assert broken.fired_at is None and broken.outcome.startswith("failed: KeyError")
    assert broken.due_at == T0 + timedelta(seconds=120)  # tried again a minute later
    # Timers fired after the failure: the scheduler works.
    assert scheduler.stats.last_fired_at is not None
    assert scheduler.stats.failing_since is None


async def test_failing_since_holds_the_first_failure_until_a_timer_fires(db: Database) -> None:
    clock = FakeClock(T0)
    scheduler = Scheduler(db, lambda _: None, kinds=timer_kinds(), clock=clock)
    await _broken_timer(db)
    await scheduler.tick()
    first = scheduler.stats.failing_since
    assert first is not None and scheduler.stats.last_fired_at is None

    clock.at = T0 + timedelta(minutes=1)  # its retry fails again: still failing since then
    await scheduler.tick()
    assert scheduler.stats.failed == 2 and scheduler.stats.failing_since == first

    await _schedule(db, "cond:gone", conditions.TIMER_KIND, clock.at, rule_id="no_such_rule")
    clock.at = T0 + timedelta(minutes=1, seconds=30)
    assert await scheduler.tick() == 1
    assert scheduler.stats.failing_since is None
    assert scheduler.stats.last_fired_at is not None


async def test_timers_fire_while_the_schedulers_upkeep_fails(db: Database) -> None:
    """Another community with a time zone the reports cannot use: its report timers cannot
    be armed, but the welfare clocks are, and this community's SOS escalation goes on."""
    await _sos(db)
    async with db.write() as conn:
        street = (await conn.execute(sa.select(communities.c.street_id))).scalar_one()
        await conn.execute(
            communities.insert().values(street_id=street, name="Olympus", timezone="Mars/Olympus")
        )
    told: list[Notification] = []
    scheduler = Scheduler(
        db, told.append, kinds=timer_kinds(), clock=FakeClock(T0 + timedelta(seconds=60))
    )

    assert await scheduler.tick() >= 1
    assert [n.kind for n in told] == ["ticket.reminder"]
    async with db.read() as conn:
        keys = list((await conn.execute(sa.select(timers.c.key))).scalars())
    assert any(k.startswith("welfare:") for k in keys)  # armed in a transaction of their own


async def test_a_failing_committed_callback_does_not_stop_the_timers_behind(
    db: Database,
) -> None:
    community = await _community_id(db)
    for day in ("2026-11-20", "2026-11-21"):
        await _schedule(
            db,
            f"report:daily:{community}:{day}",
            reports_schedule.TIMER_KIND,
            T0,
            community_id=community,
            period="daily",
            date=day,
        )
    told: list[Notification] = []

    def committed(note: Notification) -> None:
        told.append(note)
        if len(told) == 1:
            raise RuntimeError("the relay could not be poked")

    scheduler = Scheduler(db, committed, kinds=timer_kinds(), clock=FakeClock(T0))
    assert await scheduler.tick() == 2
    # The day in words, in every language (the community's default is the title).
    assert [n.titles["en"] for n in told] == [
        "Daily digest for Nov 20, 2026",
        "Daily digest for Nov 21, 2026",
    ]
    assert [n.title for n in told] == ["2026年11月20日日报", "2026年11月21日日报"]
    assert scheduler.stats.failed == 0  # its work committed: the timer did fire
