"""The database handle: an async SQLAlchemy engine with one writer at a time.

SQLite allows one writer; PostgreSQL allows many but the hub's ingest is one
writer per process anyway. Holding an asyncio lock around write transactions
keeps two coroutines from interleaving statements in one SQLite file. It only
orders the coroutines of one process: several hub processes on one PostgreSQL
database rely on the database itself (unique keys, ON CONFLICT, row and
advisory locks, see hub/storage/locks.py and docs/scale-out.md).

On SQLite the write transactions run in the loop's thread
(hub/storage/inloop_sqlite.py) and reads on aiosqlite's threads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.dialects import registry
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from hub.storage.locks import lock_migrations
from hub.storage.migrate import upgrade_to_head

log = logging.getLogger(__name__)

# How often, at most, the WAL the in-loop writer appends to is checkpointed.
CHECKPOINT_EVERY_S = 1.0

registry.register("sqlite.hubinloop", "hub.storage.inloop_sqlite", "SQLiteDialect_inloop")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while ingest writes; NORMAL is durable across
    # process crashes (not power loss), the usual trade for WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _inloop_pragmas(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    # Nothing that waits or copies the WAL inside SQLite, which would block the
    # loop: inloop_sqlite retries a busy statement, and Database checkpoints
    # the WAL on a reader's thread.
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def _upgrade_in_one_transaction(connection: Connection) -> None:
    """All migrations commit together or not at all.

    SQLite's Python driver only opens a transaction before INSERT/UPDATE/DELETE,
    so each CREATE TABLE committed on its own: a hub killed while migrating left
    tables without a version row and could never start again. Here the driver's
    own transaction handling is switched off and one BEGIN IMMEDIATE covers the
    whole upgrade; the caller's commit() ends it (PostgreSQL's DDL is
    transactional already).
    """
    if connection.dialect.name != "sqlite":
        lock_migrations(connection)  # several hubs may start at once
        upgrade_to_head(connection)
        return
    driver = connection.connection.dbapi_connection
    assert driver is not None
    previous = driver.isolation_level
    driver.isolation_level = None  # no transaction is open yet, so this commits nothing
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        upgrade_to_head(connection)
    finally:
        driver.isolation_level = previous  # leaves the open transaction to commit/rollback


def dump_json(value: object) -> str:
    """JSON columns' text, with orjson: every event's values pass through here.

    json.dumps was 6 % of the hub's time in the ingest benchmark. Keys that are
    not strings become strings, as json.dumps makes them; UTF-8 stays as it is.
    """
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _engine(url: str | URL, **options: Any) -> AsyncEngine:
    return create_async_engine(
        url, json_serializer=dump_json, json_deserializer=orjson.loads, **options
    )


class Database:
    def __init__(self, engine: AsyncEngine, write_engine: AsyncEngine | None = None) -> None:
        self.engine = engine
        # SQLite: write transactions in the loop's thread (hub/storage/inloop_sqlite.py).
        self.write_engine = write_engine or engine
        self._write_lock = asyncio.Lock()
        self._checkpoint: asyncio.Task[None] | None = None
        self._last_checkpoint = 0.0

    @classmethod
    def open(cls, url: str) -> Database:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = _engine(url, pool_pre_ping=parsed.get_backend_name() != "sqlite")
        if parsed.get_backend_name() != "sqlite":
            return cls(engine)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        if not parsed.database or parsed.database == ":memory:" or "mode=memory" in str(parsed):
            return cls(engine)  # a second engine would open a second, empty memory database
        writer = _engine(parsed.set(drivername="sqlite+hubinloop"))
        event.listen(writer.sync_engine, "connect", _inloop_pragmas)
        return cls(engine, writer)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        async with self._write_lock, self.write_engine.begin() as conn:
            yield conn
        if self.write_engine is not self.engine:
            self._checkpoint_soon()

    def _checkpoint_soon(self) -> None:
        """Start a PASSIVE WAL checkpoint on a reader's thread, at most once a second.

        SQLite would otherwise checkpoint inside the writer's commit, copying
        pages and syncing the file in the loop. PASSIVE waits for nobody: a
        page a reader still needs stays in the WAL until the next one.
        """
        now = time.monotonic()
        running = self._checkpoint is not None and not self._checkpoint.done()
        if running or now - self._last_checkpoint < CHECKPOINT_EVERY_S:
            return
        self._last_checkpoint = now
        self._checkpoint = asyncio.create_task(self._run_checkpoint())

    async def _run_checkpoint(self) -> None:
        try:
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # the next write tries again; the WAL only grows meanwhile
            log.warning("WAL checkpoint failed", exc_info=True)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    async def migrate(self) -> None:
        async with self._write_lock, self.engine.begin() as conn:
            await conn.run_sync(_upgrade_in_one_transaction)

    async def close(self) -> None:
        if self._checkpoint is not None:
            await asyncio.gather(self._checkpoint, return_exceptions=True)
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()
        await self.engine.dispose()
