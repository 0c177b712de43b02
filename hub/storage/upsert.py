"""INSERT ... ON CONFLICT DO NOTHING on both SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection


async def insert_ignoring_duplicates(
    conn: AsyncConnection, table: sa.Table, rows: Sequence[dict[str, Any]]
) -> None:
    """Insert rows; a row whose primary key already exists is skipped (redelivery is harmless).

    Every row has the keys of the first. The statement is compiled once per
    dialect, table and keys, and each row goes to the driver as a tuple made
    with the dialect's own bind processors: the SQL and values SQLAlchemy would
    send, without its per-row parameter processing, which was about a quarter
    of storing an ingest batch (events and telemetry history come through here).
    """
    if not rows:
        return
    keys = tuple(rows[0])
    prepared = _prepared_insert(conn.dialect, table, keys)
    if prepared is None:  # Python-side column defaults to fill: SQLAlchemy's own path
        await conn.execute(_insert_ignoring(conn.dialect, table), list(rows))
        return
    sql, binds = prepared
    await conn.exec_driver_sql(
        sql, [tuple([row[k] if p is None else p(row[k]) for k, p in binds]) for row in rows]
    )


def _dialect_insert(dialect: Dialect, table: sa.Table) -> Any:
    """The dialect's own INSERT, the one with ON CONFLICT."""
    if dialect.name == "sqlite":
        return sqlite.insert(table)
    if dialect.name == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(f"no ON CONFLICT for {dialect.name}")  # pragma: no cover


def _insert_ignoring(dialect: Dialect, table: sa.Table) -> Any:
    return _dialect_insert(dialect, table).on_conflict_do_nothing()


_Binds = list[tuple[str, Callable[[Any], Any] | None]]
_PREPARED: WeakKeyDictionary[Dialect, dict[tuple[str, tuple[str, ...]], tuple[str, _Binds] | None]]
_PREPARED = WeakKeyDictionary()


def _prepared_insert(
    dialect: Dialect, table: sa.Table, keys: tuple[str, ...]
) -> tuple[str, _Binds] | None:
    """(driver SQL, [(key, bind processor)] in parameter order); None: SQLAlchemy's path."""
    by_statement = _PREPARED.setdefault(dialect, {})
    found_key = (table.name, keys)
    if found_key in by_statement:
        return by_statement[found_key]
    compiled = _insert_ignoring(dialect, table).compile(dialect=dialect, column_keys=list(keys))
    order = compiled.positiontup
    prepared: tuple[str, _Binds] | None = None
    if order is not None and set(order) == set(keys):
        binds = [(k, table.c[k].type.dialect_impl(dialect).bind_processor(dialect)) for k in order]
        prepared = (compiled.string, binds)
    by_statement[found_key] = prepared
    return prepared


async def upsert(
    conn: AsyncConnection, table: sa.Table, row: dict[str, Any], keys: Sequence[str]
) -> None:
    """Insert a row, or update every non-key column of the row with the same keys."""
    stmt = _dialect_insert(conn.dialect, table).values(row)
    changes = {k: stmt.excluded[k] for k in row if k not in keys}
    await conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=changes))


async def upsert_many(
    conn: AsyncConnection, table: sa.Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """``upsert`` for many rows with the same columns, in one statement (executemany)."""
    if not rows:
        return
    stmt = _dialect_insert(conn.dialect, table)
    changes = {k: stmt.excluded[k] for k in rows[0] if k not in keys}
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=list(keys), set_=changes), list(rows)
    )
