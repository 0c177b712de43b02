"""Dead letters on a real SQLite file: bounded per gateway and in total, truncated, purged."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from device_adapters.model import DeadLetter
from hub.deadletters import service
from hub.deadletters.bounds import DeadLetterBounds, DropReason, Limits, bounds_for, use_bounds
from hub.deadletters.service import DeadLetterRetention
from hub.schema.deadletters import dead_letters
from hub.settings import DeadLetterSettings
from hub.storage.db import Database

NOW = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database.open(f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}")
    await database.migrate()
    yield database
    await database.close()


def garbage(gateway_id: str, n: int, size: int = 40) -> list[DeadLetter]:
    return [
        DeadLetter(
            dead_letter_id=uuid.uuid4(),
            gateway_id=gateway_id,
            source="ebike-tcp 10.0.0.7:40001",
            protocol="ebike",
            received_at=NOW,
            reason="bad checksum",
            raw=b"\xff\x00" + bytes(size - 2),
        )
        for _ in range(n)
    ]


async def store_in_batches(
    db: Database, letters: list[DeadLetter], now: datetime = NOW, batch: int = 500
) -> None:
    """As the ingest does: one transaction per batch."""
    for start in range(0, len(letters), batch):
        async with db.write() as conn:
            await service.store(conn, letters[start : start + batch], now)


async def stored(db: Database, gateway_id: str | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(dead_letters)
    if gateway_id is not None:
        query = query.where(dead_letters.c.gateway_id == gateway_id)
    async with db.read() as conn:
        return int((await conn.execute(query)).scalar_one())


async def current_bounds(db: Database) -> DeadLetterBounds:
    async with db.write() as conn:
        return bounds_for(conn)


async def test_a_flood_from_one_gateway_stores_the_bound_and_counts_the_rest(
    db: Database,
) -> None:
    use_bounds(db, DeadLetterBounds(Limits.from_settings(DeadLetterSettings())))

    await store_in_batches(db, garbage("edge-flooded", 5000))
    await store_in_batches(db, garbage("edge-quiet", 10))

    # 1000 within the bound, then 1 in 100 of the other 4000 as samples.
    assert await stored(db, "edge-flooded") == 1000 + 40
    assert await stored(db, "edge-quiet") == 10
    stats = (await current_bounds(db)).stats
    assert stats.dropped[DropReason.GATEWAY_BOUND] == 4000 - 40
    assert stats.sampled == 40
    async with db.read() as conn:
        reasons = (
            await conn.execute(
                sa.select(dead_letters.c.reason).where(dead_letters.c.reason.like("%sampled%"))
            )
        ).scalars()
        assert all(r.startswith("bad checksum [sampled: 1 in 100") for r in reasons)


async def test_the_bound_counts_bytes_too(db: Database) -> None:
    limits = Limits(per_gateway_letters=1000, per_gateway_bytes=10_000, sample_every=1000)
    use_bounds(db, DeadLetterBounds(limits))

    await store_in_batches(db, garbage("edge-big", 100, size=1000))

    # Each letter is its 1000 raw bytes plus reason and source: 9 fit, then one sample.
    assert await stored(db, "edge-big") == 9 + 1


async def test_past_the_total_bound_nothing_more_is_stored_until_the_next_window(
    db: Database,
) -> None:
    use_bounds(db, DeadLetterBounds(Limits(per_gateway_letters=30, total_letters=50)))
    for gateway in ("edge-a", "edge-b", "edge-c"):
        await store_in_batches(db, garbage(gateway, 30))

    assert await stored(db) == 50
    assert await stored(db, "edge-c") == 0
    assert (await current_bounds(db)).stats.dropped[DropReason.TOTAL_BOUND] == 40

    await store_in_batches(db, garbage("edge-c", 5), now=NOW + timedelta(hours=1))
    assert await stored(db, "edge-c") == 5


async def test_a_batch_stored_again_after_a_failed_commit_is_counted_once(db: Database) -> None:
    use_bounds(db, DeadLetterBounds(Limits(per_gateway_letters=10, sample_every=1000)))
    letters = garbage("edge-a", 15)
    with pytest.raises(RuntimeError):
        async with db.write() as conn:
            await service.store(conn, letters, NOW)
            raise RuntimeError("the rest of the batch failed: rolled back")

    await store_in_batches(db, letters)

    # The same 10 stored (the first of the 5 over the bound is a sample), 4 dropped once.
    assert await stored(db) == 11
    assert (await current_bounds(db)).stats.dropped[DropReason.GATEWAY_BOUND] == 4


async def test_raw_bytes_are_cut_and_the_reason_says_how_many_there_were(db: Database) -> None:
    big = garbage("edge-a", 1, size=100_000)

    await store_in_batches(db, big)

    async with db.read() as conn:
        row = (await conn.execute(sa.select(dead_letters))).one()
    assert row.raw == big[0].raw[: 64 * 1024]
    assert row.reason == "bad checksum [raw truncated: 100000 bytes received, first 65536 kept]"
    assert (await current_bounds(db)).stats.truncated == 1


async def test_letters_older_than_the_retention_are_purged(db: Database) -> None:
    class Clock:
        def now(self) -> datetime:
            return NOW

    old, recent = garbage("edge-a", 25), garbage("edge-a", 3)
    await store_in_batches(db, old, now=NOW - timedelta(days=14, minutes=1))
    await store_in_batches(db, recent, now=NOW - timedelta(days=13))

    retention = DeadLetterRetention(db, keep_days=14, clock=Clock(), chunk=10)
    assert await retention.purge() == 25

    async with db.read() as conn:
        left = set((await conn.execute(sa.select(dead_letters.c.id))).scalars())
    assert left == {dl.dead_letter_id for dl in recent}
