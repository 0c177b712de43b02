"""INSERT ... ON CONFLICT DO NOTHING on both SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


async def insert_ignoring_duplicates(
    conn: AsyncConnection, table: sa.Table, rows: Sequence[dict[str, Any]]
) -> None:
    """Insert rows; a row whose primary key already exists is skipped (redelivery is harmless)."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "sqlite":
        stmt: Any = sqlite.insert(table).on_conflict_do_nothing()
    elif dialect == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two supported stores
        raise NotImplementedError(f"no insert-ignore for {dialect}")
    await conn.execute(stmt, list(rows))


async def upsert(
    conn: AsyncConnection, table: sa.Table, row: dict[str, Any], keys: Sequence[str]
) -> None:
    """Insert a row, or update every non-key column of the row with the same keys."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        stmt: Any = sqlite.insert(table).values(row)
    elif dialect == "postgresql":
        stmt = postgresql.insert(table).values(row)
    else:  # pragma: no cover - only the two supported stores
        raise NotImplementedError(f"no upsert for {dialect}")
    changes = {k: stmt.excluded[k] for k in row if k not in keys}
    await conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=changes))


async def upsert_many(
    conn: AsyncConnection, table: sa.Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """``upsert`` for many rows with the same columns, in one statement (executemany)."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "sqlite":
        stmt: Any = sqlite.insert(table)
    elif dialect == "postgresql":
        stmt = postgresql.insert(table)
    else:  # pragma: no cover - only the two supported stores
        raise NotImplementedError(f"no upsert for {dialect}")
    changes = {k: stmt.excluded[k] for k in rows[0] if k not in keys}
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=list(keys), set_=changes), list(rows)
    )
