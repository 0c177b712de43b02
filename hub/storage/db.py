"""The database handle: an async SQLAlchemy engine with one writer at a time.

SQLite allows one writer; PostgreSQL allows many but the hub's ingest is one
writer per process anyway. Holding an asyncio lock around write transactions
keeps two coroutines from interleaving statements in one SQLite file. It only
orders the coroutines of one process: several hub processes on one PostgreSQL
database rely on the database itself (unique keys, ON CONFLICT, row and
advisory locks, see hub/storage/locks.py and docs/scale-out.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from hub.storage.locks import lock_migrations
from hub.storage.migrate import upgrade_to_head


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while ingest writes; NORMAL is durable across
    # process crashes (not power loss), the usual trade for WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
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


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._write_lock = asyncio.Lock()

    @classmethod
    def open(cls, url: str) -> Database:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            pool_pre_ping=parsed.get_backend_name() != "sqlite",
            json_serializer=dump_json,
            json_deserializer=orjson.loads,
        )
        if parsed.get_backend_name() == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        async with self._write_lock, self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    async def migrate(self) -> None:
        async with self._write_lock, self.engine.begin() as conn:
            await conn.run_sync(_upgrade_in_one_transaction)

    async def close(self) -> None:
        await self.engine.dispose()
