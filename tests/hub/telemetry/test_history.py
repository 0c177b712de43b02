"""The embedded history on a real SQLite file with a fixed clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.schema.telemetry import telemetry_points, telemetry_rollups
from hub.storage.db import Database
from hub.telemetry.history import (
    Retention,
    choose_resolution,
    maintain,
    read_series,
    to_ms,
)
from hub.telemetry.models import TelemetryPoint
from hub.telemetry.service import HistoryWriter
from tests.hub.telemetry.samples import NOW

DAY = timedelta(days=1)
RETENTION = Retention(
    raw_ms=2 * 86_400_000,
    five_min_ms=30 * 86_400_000,
    hourly_ms=400 * 86_400_000,
    lookback_ms=3_600_000,
)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database.open(f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}")
    await database.migrate()
    try:
        yield database
    finally:
        await database.close()


def _heart(value: float, at: datetime, device: str = "watch:1") -> TelemetryPoint:
    return TelemetryPoint("vitals", device, 3, (), (("heart_rate", value),), at)


def _power(port: int, value: float, at: datetime) -> TelemetryPoint:
    return TelemetryPoint("charger", "cp:1", 3, (("port", str(port)),), (("power_w", value),), at)


# 11:50 .. 12:04: three readings in the 11:50 bucket, two in the 12:00 bucket.
READINGS = [
    _heart(60, NOW - timedelta(minutes=10)),
    _heart(70, NOW - timedelta(minutes=8)),
    _heart(80, NOW - timedelta(minutes=6)),
    _heart(90, NOW),
    _heart(100, NOW + timedelta(minutes=4)),
]


async def _rollups(db: Database) -> list[tuple[object, ...]]:
    r = telemetry_rollups
    async with db.read() as conn:
        rows = await conn.execute(
            sa.select(
                r.c.resolution,
                r.c.bucket_ms,
                r.c.min_value,
                r.c.max_value,
                r.c.sum_value,
                r.c.count,
            ).order_by(r.c.resolution, r.c.bucket_ms)
        )
        return [tuple(row) for row in rows]


async def test_points_are_stored_once_in_batches_and_rolled_up(db: Database) -> None:
    clock = FixedClock(NOW + timedelta(minutes=5))
    writer = HistoryWriter(db, capacity=100, batch_points=2, clock=clock)
    writer.offer(READINGS)
    await writer.flush()
    writer.offer(READINGS[:2])  # redelivered: stored once
    await writer.flush()
    assert writer.points_written == 7 and writer.buffer_depth == 0
    async with db.read() as conn:
        count = (
            await conn.execute(sa.select(sa.func.count()).select_from(telemetry_points))
        ).scalar()
    assert count == 5

    async with db.write() as conn:
        await maintain(conn, clock.now(), RETENTION)
    first = await _rollups(db)
    bucket = to_ms(NOW)
    hour = to_ms(NOW.replace(minute=0)) - 3_600_000  # 11:00
    assert first == [
        ("1h", hour, 60.0, 80.0, 210.0, 3),
        ("1h", bucket, 90.0, 100.0, 190.0, 2),
        ("5m", bucket - 600_000, 60.0, 80.0, 210.0, 3),
        ("5m", bucket, 90.0, 100.0, 190.0, 2),
    ]

    # Again, and in two "hub processes" at once (two engines on one file): same numbers.
    other = Database.open(str(db.engine.url))
    try:

        async def once(database: Database) -> None:
            async with database.write() as conn:
                await maintain(conn, clock.now(), RETENTION)

        await asyncio.gather(once(db), once(other))
    finally:
        await other.close()
    assert await _rollups(db) == first

    # A late reading for an old bucket (stored now) is rolled up into that bucket.
    clock.moment = NOW + timedelta(minutes=30)
    writer.offer([_heart(40, NOW - timedelta(minutes=9))])
    await writer.flush()
    async with db.write() as conn:
        await maintain(conn, clock.now(), RETENTION)
    rolled = {(row[0], row[1]): row[2:] for row in await _rollups(db)}
    assert rolled[("5m", bucket - 600_000)] == (40.0, 80.0, 250.0, 4)
    assert rolled[("1h", hour)] == (40.0, 80.0, 250.0, 4)


async def test_retention_prunes_raw_then_5m_and_reads_pick_a_resolution(db: Database) -> None:
    clock = FixedClock(NOW + timedelta(minutes=5))
    writer = HistoryWriter(db, capacity=100, clock=clock)
    writer.offer([*READINGS, _power(1, 100, NOW), _power(2, 200, NOW)])
    await writer.flush()
    async with db.write() as conn:
        await maintain(conn, clock.now(), RETENTION)

    async with db.read() as conn:
        raw = await read_series(
            conn,
            device_id="watch:1",
            measurement="vitals",
            field="heart_rate",
            since=NOW - timedelta(hours=1),
            until=NOW + timedelta(hours=1),
            resolution="raw",
            limit=1000,
        )
        ports = await read_series(
            conn,
            device_id="cp:1",
            measurement="charger",
            field="power_w",
            since=NOW - timedelta(hours=1),
            until=NOW + timedelta(hours=1),
            resolution="raw",
            limit=1000,
        )
    assert [v.avg for v in raw[0].values] == [60, 70, 80, 90, 100] and raw[0].tags == {}
    assert [(s.tags, s.values[0].avg) for s in ports] == [
        ({"port": "1"}, 100.0),
        ({"port": "2"}, 200.0),
    ]

    clock.moment = NOW + 3 * DAY  # past raw retention, within 5-minute retention
    async with db.write() as conn:
        result = await maintain(conn, clock.now(), RETENTION)
    assert result.pruned_points == 7
    async with db.read() as conn:
        five = await read_series(
            conn,
            device_id="watch:1",
            measurement="vitals",
            field="heart_rate",
            since=NOW - timedelta(hours=1),
            until=NOW + timedelta(hours=1),
            resolution="5m",
            limit=1000,
        )
    assert [(v.min, v.avg, v.max, v.count) for v in five[0].values] == [
        (60, 70, 80, 3),
        (90, 95, 100, 2),
    ]
    clock.moment = NOW + 31 * DAY
    async with db.write() as conn:
        await maintain(conn, clock.now(), RETENTION)
    assert {row[0] for row in await _rollups(db)} == {"1h"}

    now = clock.now()
    assert choose_resolution(now - timedelta(hours=2), now, now, RETENTION) == "raw"
    assert choose_resolution(now - 3 * DAY, now - 2.9 * DAY, now, RETENTION) == "5m"
    assert choose_resolution(now - 2 * DAY, now, now, RETENTION) == "5m"
    assert choose_resolution(now - 60 * DAY, now, now, RETENTION) == "1h"


async def test_a_full_history_queue_drops_its_oldest_points(db: Database) -> None:
    writer = HistoryWriter(db, capacity=5, clock=FixedClock(NOW))
    writer.offer([_heart(i, NOW + timedelta(seconds=i)) for i in range(8)])
    assert writer.points_dropped == 3 and writer.buffer_depth == 5
    await writer.flush()
    async with db.read() as conn:
        values = (
            await conn.execute(sa.select(telemetry_points.c.value).order_by("ts_ms"))
        ).scalars()
        assert list(values) == [3, 4, 5, 6, 7]
