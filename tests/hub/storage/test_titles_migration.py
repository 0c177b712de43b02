"""Migration 0011 (titles per language) upgrades a database that has alerts and tickets,
on SQLite and PostgreSQL: their titles are kept, and read as stored in every language."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from hub.storage.db import Database
from hub.storage.migrate import alembic_config
from hub.tickets.reading import title_in

_ALERT = (
    "INSERT INTO alerts (device_id, kind, severity, status, opened_at, last_event_at, "
    "event_count, summary, silent) VALUES ('watch:1', 'wristband.sos', 'critical', 'open', "
    "'2026-12-01 08:00:00', '2026-12-01 08:00:00', 1, 'SOS: Sun Lihua at 1-101', false)"
)
_TICKET = (
    "INSERT INTO tickets (title, description, category, status, priority, source, "
    "created_at, updated_at, level, confidential) VALUES ('SOS: Sun Lihua at 1-101', '', "
    "'elderly_sos', 'registered', 'urgent', 'device_alert', '2026-12-01 08:00:00', "
    "'2026-12-01 08:00:00', 'grid', false)"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}"
    else:
        yield str(request.getfixturevalue("postgres_url"))


def _to(revision: str) -> Callable[[Connection], None]:
    def run(connection: Connection) -> None:
        if revision.startswith("-"):
            command.downgrade(alembic_config(connection), revision[1:])
        else:
            command.upgrade(alembic_config(connection), revision)

    return run


def _columns(connection: Connection, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(connection).get_columns(table)}


async def test_0011_adds_titles_and_keeps_what_was_there(url: str) -> None:
    db = Database.open(url)
    try:
        async with db.write() as conn:
            await conn.run_sync(_to("0010"))
            await conn.execute(sa.text(_ALERT))
            await conn.execute(sa.text(_TICKET))
        async with db.write() as conn:
            await conn.run_sync(_to("head"))
        async with db.read() as conn:
            assert "titles" in await conn.run_sync(_columns, "alerts")
            assert "titles" in await conn.run_sync(_columns, "tickets")
            ticket = (await conn.execute(sa.text("SELECT title, titles FROM tickets"))).one()
            alert = (await conn.execute(sa.text("SELECT summary, titles FROM alerts"))).one()
        assert tuple(ticket) == ("SOS: Sun Lihua at 1-101", None)
        assert tuple(alert) == ("SOS: Sun Lihua at 1-101", None)
        # An old ticket reads as it was stored, whatever the reader's language.
        assert {title_in(None, ticket.title, language) for language in ("zh-CN", "en")} == {
            "SOS: Sun Lihua at 1-101"
        }

        async with db.write() as conn:
            await conn.run_sync(_to("-0010"))
        async with db.read() as conn:
            assert "titles" not in await conn.run_sync(_columns, "tickets")
            assert "titles" not in await conn.run_sync(_columns, "alerts")
            kept = (await conn.execute(sa.text("SELECT title FROM tickets"))).scalar_one()
        assert kept == "SOS: Sun Lihua at 1-101"
    finally:
        await db.close()
