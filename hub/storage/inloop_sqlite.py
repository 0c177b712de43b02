"""SQLite write transactions run in the event loop's thread (``sqlite+hubinloop``).

aiosqlite runs each call in a thread of its own and hands the result back to
the loop: creating a cursor, executing, fetching and closing are four hand-offs
per statement. In the ingest benchmark's profile the hub's main thread spent
about 30 % of its time waiting for them while that thread was idle 85 % of the
time. The hub's writes are one transaction at a time anyway (the write lock in
``hub/storage/db.py``), and a write statement's own work in SQLite is short, so
the hub runs its write transactions here, in the loop, with no hand-off. Reads
(the API, the dashboard) stay on aiosqlite, where a long query never holds up
the loop: under WAL a reader never waits for the writer.

The one thing that could hold the loop for long is a lock held by another
process (a CLI command writing to the same file). This connection therefore
has no busy timeout: a statement SQLite refuses as busy is retried with an
``asyncio.sleep`` between tries, so the loop keeps serving while it waits, up
to the same 10 s the aiosqlite connections wait.

The classes below give SQLAlchemy's aiosqlite adapter the awaitable
connection and cursor it expects. Each statement runs at once and then yields
to the loop once, so the loop's other tasks run between a batch's statements.
"""

from __future__ import annotations

import asyncio
import sqlite3
import types
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util.concurrency import await_

if TYPE_CHECKING:
    from sqlalchemy.connectors.asyncio import AsyncIODBAPIConnection

BUSY_WAIT_S = 10.0
# SQLITE_BUSY and SQLITE_BUSY_RECOVERY are what a busy handler would wait out;
# SQLITE_BUSY_SNAPSHOT (a stale read snapshot) is not: waiting cannot help it.
_RETRYABLE = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_BUSY_RECOVERY})

T = TypeVar("T")


def _is_busy(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorcode", None) in _RETRYABLE


async def _until_not_busy(call: Callable[[], T]) -> T:
    """Run ``call``; while SQLite says busy, sleep without blocking the loop and try again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUSY_WAIT_S
    pause = 0.001
    while True:
        try:
            result = call()
        except sqlite3.OperationalError as error:
            if not _is_busy(error) or loop.time() >= deadline:
                raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
            continue
        # Let the loop's other tasks (a live SOS push, an API request) run between
        # statements, as they did while aiosqlite's thread worked: without this a
        # whole ingest batch held the loop, and the SOS benchmark's p99 under load
        # went from 237 to 467 ms.
        await asyncio.sleep(0)
        return result


class InLoopCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InLoopCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> InLoopCursor:
        await _until_not_busy(lambda: self._cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Sequence[Any]) -> InLoopCursor:
        await _until_not_busy(lambda: self._cursor.executemany(sql, parameters))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InLoopConnection:
    """The part of ``aiosqlite.Connection`` SQLAlchemy's adapter calls."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection: sqlite3.Connection | None = connection

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self, *args: Any, **kwargs: Any) -> InLoopCursor:
        return InLoopCursor(self._conn.cursor(*args, **kwargs))

    async def commit(self) -> None:
        await _until_not_busy(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._conn.create_function(*args, **kw)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


async def _connect(*args: Any, **kw: Any) -> InLoopConnection:
    # check_same_thread=False: the pool may close a connection from the thread
    # that garbage-collects it; every statement still runs in the loop's thread.
    return InLoopConnection(sqlite3.connect(*args, **{**kw, "check_same_thread": False}))


# The module SQLAlchemy's adapter reads errors and version attributes from.
_driver = types.ModuleType("hub_inloop_sqlite_driver")
for _name in (
    "DatabaseError",
    "Error",
    "IntegrityError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "sqlite_version",
    "sqlite_version_info",
):
    setattr(_driver, _name, getattr(sqlite3, _name))
_driver.Connection = InLoopConnection  # type: ignore[attr-defined]
_driver.__version__ = "1.0"  # type: ignore[attr-defined]


class _InLoopAdaptedConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    @property
    def isolation_level(self) -> str | None:
        return self._connection.isolation_level  # type: ignore[no-any-return]

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._connection._conn.isolation_level = value


class _InLoopDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> _InLoopAdaptedConnection:
        kw.pop("async_creator_fn", None)
        connection = cast("AsyncIODBAPIConnection", await_(_connect(*arg, **kw)))
        return _InLoopAdaptedConnection(self, connection)


class SQLiteDialect_inloop(SQLiteDialect_aiosqlite):
    driver = "hubinloop"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> AsyncAdapt_aiosqlite_dbapi:
        return _InLoopDbapi(_driver, sqlite3)


dialect = SQLiteDialect_inloop
