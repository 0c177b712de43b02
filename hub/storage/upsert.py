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
