"""``insert_ignoring_duplicates`` sends the driver what SQLAlchemy's own executemany sends.

It compiles the INSERT once and binds each row with the dialect's processors
itself (hub/storage/upsert.py). On SQLite and PostgreSQL, the same rows written
through it and through ``conn.execute(insert, rows)`` read back identical, in
the database's own text (UUIDs, UTC datetimes, JSON, bytes, NULLs); a row whose
key exists is skipped; a table with Python-side defaults takes SQLAlchemy's path.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hub.schema.events import events
from hub.storage.db import Database
from hub.storage.upsert import _insert_ignoring, _prepared_insert, insert_ignoring_duplicates

_SHANGHAI = timezone(timedelta(hours=8))


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _rows(device: str) -> list[dict[str, Any]]:
    base = datetime(2026, 11, 22, 8, 30, 0, 123456, tzinfo=_SHANGHAI)
    return [
        {
            "event_id": uuid.uuid4(),
            "device_id": device,
            "family": "wristband",
            "protocol": "watch",
            "kind": "wristband.heartbeat",
            "severity": "informational",
            "lane": "telemetry",
            "device_time": None if n % 2 else base + timedelta(seconds=n),
            "received_at": (base + timedelta(seconds=n)).astimezone(UTC),
            "stored_at": base,
            "gateway_id": "edge-1",
            "values": {"heart_rate": 70 + n, "note": "孙丽华", "ok": n % 3 == 0, "x": None},
            "raw": bytes([n, 0, 255]),
            "alert_id": None,
        }
        for n in range(5)
    ]


async def _stored_text(db: Database) -> list[tuple[Any, ...]]:
    """The rows as the database holds them, each column cast to text (bytes as they are)."""
    columns = [c if c.name == "raw" else sa.cast(c, sa.Text) for c in events.c]
    async with db.read() as conn:
        found = await conn.execute(sa.select(*columns).order_by(events.c.received_at))
        return [tuple(row) for row in found]


async def test_the_same_rows_read_back_the_same_either_way(url: str) -> None:
    db = Database.open(url)
    try:
        await db.migrate()
        rows = _rows("watch:1")
        async with db.write() as conn:
            await conn.execute(_insert_ignoring(conn.dialect, events), rows)  # SQLAlchemy's path
        by_sqlalchemy = await _stored_text(db)
        async with db.write() as conn:
            await conn.execute(events.delete())
            assert _prepared_insert(conn.dialect, events, tuple(rows[0])) is not None
            await insert_ignoring_duplicates(conn, events, rows)
        by_us = await _stored_text(db)
        assert len(by_us) == 5 and by_us == by_sqlalchemy

        # A redelivered row (same key) is skipped, a new one stored.
        async with db.write() as conn:
            await insert_ignoring_duplicates(conn, events, rows[:2] + _rows("watch:1")[:1])
        async with db.read() as conn:
            count = await conn.execute(sa.select(sa.func.count()).select_from(events))
            assert count.scalar_one() == 6
    finally:
        await db.close()


def test_a_table_with_python_defaults_is_left_to_sqlalchemy() -> None:
    table = sa.Table(
        "with_default",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("made", sa.String, default="by SQLAlchemy"),
    )
    dialect = sa.create_engine("sqlite://").dialect
    assert _prepared_insert(dialect, table, ("id",)) is None
    assert _prepared_insert(dialect, table, ("id", "made")) is not None
