"""Charger reservations end on a stored timer: expired once, across restarts and two
schedulers; used if the port charged while held; and the database decides a race."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from community_hub_tools.demo.seed import DEMO_PASSWORD
from device_adapters.model import DeviceFamily
from hub.access.scope import Scope, scope_for
from hub.chargers import reservations
from hub.chargers.models import ReservationStatus
from hub.chargers.service import list_availability
from hub.ingest.flows import store_batch
from hub.notifications.base import Notification
from hub.schema.chargers import charger_reservations
from hub.schema.residents import residents
from hub.schema.timers import timers
from hub.storage.db import Database
from hub.timer_kinds import timer_kinds
from hub.timers.scheduler import Scheduler
from hub.users.models import Role
from hub.users.service import create_user, get_user
from tests.support.hubdata import device_event, open_seeded_db, user_id_of

PILE = "ebike:EB-B1-01"  # in 1号楼 of the demo community
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


def _ignore(_: Notification) -> None:
    pass


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_seeded_db(tmp_path)
    async with database.write() as conn:
        await store_batch(conn, [_status(p, "available") for p in (1, 2)], [], T0)
    yield database
    await database.close()


def _status(port: int, availability: str, at: datetime = T0) -> Any:
    return device_event(
        PILE,
        DeviceFamily.CHARGER,
        "charger.port_status",
        {"port": port, "status": availability, "availability": availability},
        received_at=at - timedelta(minutes=1),
    )


async def _scope(db: Database, username: str) -> Scope:
    async with db.read() as conn:
        user = await get_user(conn, await user_id_of(db, username))
        assert user is not None
        return await scope_for(conn, user)


async def _wu_family(db: Database) -> Scope:
    async with db.write() as conn:
        resident_id = (
            await conn.execute(sa.select(residents.c.id).where(residents.c.full_name == "吴美芳"))
        ).scalar_one()
        await create_user(
            conn,
            username="wu.family",
            password=DEMO_PASSWORD,
            full_name="吴美芳家属",
            role=Role.RESIDENT,
            resident_id=resident_id,
        )
    return await _scope(db, "wu.family")


async def _reserve(db: Database, who: Scope, port: int, minutes: int, at: datetime) -> int:
    async with db.write() as conn:
        made = await reservations.reserve(conn, who, PILE, port, minutes, at)
    return made.id


async def _stored(db: Database, reservation_id: int) -> tuple[str, datetime | None]:
    async with db.read() as conn:
        row = (
            await conn.execute(
                sa.select(charger_reservations).where(charger_reservations.c.id == reservation_id)
            )
        ).one()
    return row.status, row.ended_at


async def _timer(db: Database, reservation_id: int) -> Any:
    async with db.read() as conn:
        return (
            await conn.execute(
                sa.select(timers).where(timers.c.key == reservations.timer_key(reservation_id))
            )
        ).one()


async def _port_shown(db: Database, who: Scope, port: int, at: datetime) -> str:
    async with db.read() as conn:
        [pile] = [c for c in await list_availability(conn, who, at) if c.device_id == PILE]
    return next(p.availability.value for p in pile.ports if p.port == port)


async def test_the_timer_expires_a_reservation_once_across_a_restart(
    db: Database, tmp_path: Path
) -> None:
    sun = await _scope(db, "resident.sun")
    reservation_id = await _reserve(db, sun, 1, 10, T0)
    timer = await _timer(db, reservation_id)
    assert timer.kind == reservations.TIMER_KIND and timer.due_at == T0 + timedelta(minutes=10)

    assert (
        await Scheduler(
            db, _ignore, kinds=timer_kinds(), clock=FakeClock(T0 + timedelta(minutes=9))
        ).tick()
        == 0
    )
    assert await _stored(db, reservation_id) == ("active", None)
    assert await _port_shown(db, sun, 1, T0 + timedelta(minutes=9)) == "reserved"
    await db.close()  # the hub stops; it was down when the reservation ran out

    reopened = Database.open(f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}")
    try:
        later = FakeClock(T0 + timedelta(minutes=12))
        first = Scheduler(reopened, _ignore, kinds=timer_kinds(), clock=later, name="a")
        second = Scheduler(reopened, _ignore, kinds=timer_kinds(), clock=later, name="b")
        assert await first.tick() == 1
        assert await second.tick() == 0
        assert first.stats.fired == 1 and second.stats.fired == 0
        # Ended when its time ran out, not when the hub got round to it.
        assert await _stored(reopened, reservation_id) == ("expired", T0 + timedelta(minutes=10))
        timer = await _timer(reopened, reservation_id)
        assert timer.fired_by == "a" and timer.outcome == "reservation expired"
        assert await _port_shown(reopened, sun, 1, later.at) == "available"
    finally:
        await reopened.close()


async def test_reads_do_not_wait_for_the_timer(db: Database) -> None:
    sun = await _scope(db, "resident.sun")
    reservation_id = await _reserve(db, sun, 1, 30, T0)
    after = T0 + timedelta(minutes=30)
    # No scheduler ran: the row is still stored active, yet nobody is shown it as such.
    assert await _stored(db, reservation_id) == ("active", None)
    assert await _port_shown(db, sun, 1, after - timedelta(seconds=1)) == "reserved"
    assert await _port_shown(db, sun, 1, after) == "available"
    async with db.read() as conn:
        [mine], total = await reservations.list_mine(conn, sun, after)
    assert total == 1 and mine.status is ReservationStatus.EXPIRED and mine.ended_at == after
    # A new reservation of the port settles the stale row first (the unique index would
    # refuse a second active one otherwise).
    wu = await _wu_family(db)
    assert await _reserve(db, wu, 1, 10, after) != reservation_id
    assert await _stored(db, reservation_id) == ("expired", after)
    assert (await _timer(db, reservation_id)).cancelled_at == after


async def test_a_cancelled_reservation_never_fires(db: Database) -> None:
    sun = await _scope(db, "resident.sun")
    reservation_id = await _reserve(db, sun, 1, 10, T0)
    async with db.write() as conn:
        cancelled = await reservations.cancel(conn, sun, reservation_id, T0 + timedelta(minutes=2))
    assert cancelled.status is ReservationStatus.CANCELLED
    assert (await _timer(db, reservation_id)).cancelled_at == T0 + timedelta(minutes=2)
    assert (
        await Scheduler(
            db, _ignore, kinds=timer_kinds(), clock=FakeClock(T0 + timedelta(hours=1))
        ).tick()
        == 0
    )
    assert await _stored(db, reservation_id) == ("cancelled", T0 + timedelta(minutes=2))


async def test_charging_while_held_makes_it_used_even_if_it_stopped_before_the_end(
    db: Database,
) -> None:
    sun = await _scope(db, "resident.sun")
    reservation_id = await _reserve(db, sun, 2, 20, T0)
    started = T0 + timedelta(minutes=5)
    async with db.write() as conn:
        await store_batch(
            conn,
            [
                device_event(
                    PILE,
                    DeviceFamily.CHARGER,
                    "charger.session_started",
                    {"port": 2},
                    received_at=started,
                ),
                device_event(
                    PILE,
                    DeviceFamily.CHARGER,
                    "charger.session_stopped",
                    {"port": 2},
                    received_at=T0 + timedelta(minutes=8),
                ),
            ],
            [],
            T0 + timedelta(minutes=8),
        )
    # Stopped before the end: the port is free again, not held for the rest of the time.
    assert await _port_shown(db, sun, 2, T0 + timedelta(minutes=9)) == "available"
    scheduler = Scheduler(
        db, _ignore, kinds=timer_kinds(), clock=FakeClock(T0 + timedelta(minutes=20))
    )
    assert await scheduler.tick() == 1
    assert await _stored(db, reservation_id) == ("used", started)
    assert (await _timer(db, reservation_id)).outcome == "reservation used"


async def test_two_hubs_racing_for_a_port_are_told_apart_by_the_unique_index(
    db: Database, tmp_path: Path
) -> None:
    """Two writers with their own locks (two processes): both see the port free, both
    insert; the partial unique index lets one through and the other gets a conflict."""
    sun, wu = await _scope(db, "resident.sun"), await _wu_family(db)
    other = Database.open(f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}")
    inserting = asyncio.Event()

    def _seen(_c: Any, _cur: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO CHARGER_RESERVATIONS"):
            inserting.set()

    event.listen(other.write_engine.sync_engine, "before_cursor_execute", _seen)

    async def first() -> int:
        async with db.write() as conn:
            made = await reservations.reserve(conn, sun, PILE, 1, 30, T0)
            await asyncio.wait_for(inserting.wait(), 10)  # the other has looked: port free
            await asyncio.sleep(0.2)  # and is waiting on the database's write lock
        return made.id

    async def second() -> str:
        await asyncio.sleep(0.1)  # after the first inserted, before it commits
        try:
            async with other.write() as conn:
                await reservations.reserve(conn, wu, PILE, 1, 30, T0)
        except reservations.ReservationConflict as exc:
            return str(exc)
        return "reserved"

    try:
        won, lost = await asyncio.gather(first(), second())
    finally:
        await other.close()
    assert lost == "port 1 of 1号楼电动车充电桩 was just reserved by someone else"
    async with db.read() as conn:
        rows = (
            await conn.execute(sa.select(charger_reservations.c.id, charger_reservations.c.user_id))
        ).all()
    assert [(r.id, r.user_id) for r in rows] == [(won, sun.user_id)]
