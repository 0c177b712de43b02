"""The hub's SQLite writes in the loop's thread, against a real SQLite file.

What has to hold: a write commits and readers see it; a write that finds the
file locked by another process waits without stopping the loop, then commits;
one that waits longer than the busy limit fails with SQLite's own error and
leaves nothing half-written.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.storage import inloop_sqlite
from hub.storage.db import Database


async def _open(tmp_path: Path) -> Database:
    db = Database.open(f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}")
    async with db.write() as conn:
        await conn.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    return db


async def _count(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(sa.text("SELECT count(*) FROM notes"))).scalar_one())


class _Ticker:
    """Counts how often the loop ran a 10 ms sleep: a blocked loop counts nothing."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self.ticks += 1

    def stop(self) -> None:
        self._task.cancel()


async def test_writes_run_on_the_in_loop_driver_and_readers_see_them(tmp_path: Path) -> None:
    db = await _open(tmp_path)
    try:
        assert db.write_engine.dialect.driver == "hubinloop"
        assert db.engine.dialect.driver == "aiosqlite"  # reads stay off the loop
        async with db.write() as conn:
            await conn.execute(
                sa.text("INSERT INTO notes (body) VALUES (:b)"), [{"b": f"n{i}"} for i in range(50)]
            )
            inserted = await conn.execute(sa.text("INSERT INTO notes (body) VALUES ('last')"))
            assert inserted.lastrowid == 51
            busy = (await conn.execute(sa.text("PRAGMA busy_timeout"))).scalar_one()
            assert busy == 0  # SQLite itself never waits in the loop
        assert await _count(db) == 51
    finally:
        await db.close()


async def test_a_failed_write_transaction_leaves_nothing(tmp_path: Path) -> None:
    db = await _open(tmp_path)
    try:
        with pytest.raises(RuntimeError):
            async with db.write() as conn:
                await conn.execute(sa.text("INSERT INTO notes (body) VALUES ('half')"))
                raise RuntimeError("the batch failed after its first statement")
        assert await _count(db) == 0
    finally:
        await db.close()


async def test_a_write_waits_for_another_process_lock_without_stopping_the_loop(
    tmp_path: Path,
) -> None:
    db = await _open(tmp_path)
    other = sqlite3.connect(tmp_path / "hub.sqlite3", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # e.g. a CLI command holding the write lock
        other.execute("INSERT INTO notes (body) VALUES ('theirs')")

        async def release() -> None:
            await asyncio.sleep(0.5)
            other.execute("COMMIT")

        ticker = _Ticker()
        releasing = asyncio.create_task(release())
        started = time.perf_counter()
        async with db.write() as conn:
            await conn.execute(sa.text("INSERT INTO notes (body) VALUES ('ours')"))
        waited = time.perf_counter() - started
        ticker.stop()
        await releasing
        assert waited >= 0.45  # it did wait for the lock
        # The loop ran on while the write waited (a blocked loop ticks 0 times).
        assert ticker.ticks >= 10, ticker.ticks
        assert await _count(db) == 2
    finally:
        other.close()
        await db.close()


async def test_a_lock_held_past_the_busy_limit_fails_with_sqlites_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inloop_sqlite, "BUSY_WAIT_S", 0.3)
    db = await _open(tmp_path)
    other = sqlite3.connect(tmp_path / "hub.sqlite3", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(sa.exc.OperationalError, match="database is locked"):
            async with db.write() as conn:
                await conn.execute(sa.text("INSERT INTO notes (body) VALUES ('ours')"))
        other.execute("ROLLBACK")
        assert await _count(db) == 0
        # The connection is still usable once the lock is gone.
        async with db.write() as conn:
            await conn.execute(sa.text("INSERT INTO notes (body) VALUES ('later')"))
        assert await _count(db) == 1
    finally:
        other.close()
        await db.close()


async def test_the_wal_is_checkpointed_off_the_loop(tmp_path: Path) -> None:
    db = await _open(tmp_path)
    main_file = tmp_path / "hub.sqlite3"
    try:
        async with db.write() as conn:
            auto = (await conn.execute(sa.text("PRAGMA wal_autocheckpoint"))).scalar_one()
            assert auto == 0  # the writer's commits never copy the WAL in the loop
        if db._checkpoint is not None:
            await db._checkpoint
        before = main_file.stat().st_size
        # About 4 MB of new pages: with the writer's autocheckpoint off they all
        # stay in the WAL until Database's own checkpoint copies them.
        async with db.write() as conn:
            await conn.execute(
                sa.text("INSERT INTO notes (body) VALUES (:b)"),
                [{"b": "x" * 1000} for _ in range(4000)],
            )
        assert main_file.stat().st_size == before
        db._last_checkpoint = 0.0  # not wait out the once-a-second limit
        async with db.write() as conn:
            await conn.execute(sa.text("INSERT INTO notes (body) VALUES ('tick')"))
        assert db._checkpoint is not None
        await db._checkpoint
        assert main_file.stat().st_size > before + 3_000_000
        assert await _count(db) == 4001
    finally:
        await db.close()


async def test_a_memory_database_keeps_one_engine_for_reads_and_writes() -> None:
    db = Database.open("sqlite+aiosqlite://")
    try:
        assert db.write_engine is db.engine
        async with db.write() as conn:
            await conn.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
            await conn.execute(sa.text("INSERT INTO notes (body) VALUES ('kept')"))
        assert await _count(db) == 1
    finally:
        await db.close()
