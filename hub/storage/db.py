"""The database handle: an async SQLAlchemy engine with one writer at a time.

SQLite allows one writer; PostgreSQL allows many but the hub's ingest is one
writer per process anyway. Holding an asyncio lock around write transactions
keeps two coroutines from interleaving statements in one SQLite file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

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


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._write_lock = asyncio.Lock()

    @classmethod
    def open(cls, url: str) -> Database:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, pool_pre_ping=parsed.get_backend_name() != "sqlite")
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
            await conn.run_sync(upgrade_to_head)

    async def close(self) -> None:
        await self.engine.dispose()
