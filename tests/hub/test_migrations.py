"""Schema migrations carry a database from the first version to the newest and back."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from hub.storage.migrate import alembic_config


def test_a_first_version_database_upgrades_with_its_data(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
        conn.execute(
            sa.text(
                "INSERT INTO devices (id, family, protocol, name, registered, state) "
                "VALUES ('watch:1', 'wristband', 'watch', 'Band', 1, '{}')"
            )
        )
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
        row = conn.execute(sa.text("SELECT id, online FROM devices")).one()
        assert tuple(row) == ("watch:1", None)
        tables = set(sa.inspect(conn).get_table_names())
        assert {
            "device_commands",
            "gateways",
            "timers",
            "points_ledger",
            "escalations",
            "refresh_tokens",
            "charger_reservations",
            "notification_outbox",
            "login_failures",
            "login_known_addresses",
            "notification_deliveries",
        } <= tables
        # The widened rota check admits grid workers and still refuses anything else.
        rota = (
            "INSERT INTO duty_rota (grid_id, user_id, position, start_minute, end_minute) "
            "VALUES (1, 1, '{}', 0, 1440)"
        )
        conn.execute(sa.text(rota.format("grid_worker")))
        with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
            conn.execute(sa.text(rota.format("janitor")))
        conn.execute(sa.text("DELETE FROM duty_rota"))
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001")
        assert "device_commands" not in set(sa.inspect(conn).get_table_names())
        assert conn.execute(sa.text("SELECT id FROM devices")).scalar_one() == "watch:1"
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        assert version == "0014"


def test_the_models_and_the_migrations_agree(tmp_path: Path) -> None:
    """Alembic finds nothing to add: every table and column in code has a migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from hub.storage.schema import metadata

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


_KILLED_MID_MIGRATION = """
import asyncio, os, signal, sys
from sqlalchemy import event
from hub.storage.db import Database

db = Database.open(sys.argv[1])
created = 0

def _die_after_some_tables(conn, cursor, statement, *args):
    global created
    if statement.lstrip().upper().startswith("CREATE TABLE"):
        created += 1
        if created == 6:
            os.kill(os.getpid(), signal.SIGKILL)

event.listen(db.engine.sync_engine, "after_cursor_execute", _die_after_some_tables)
asyncio.run(db.migrate())
"""


async def test_a_hub_killed_during_its_first_migration_starts_next_time(tmp_path: Path) -> None:
    """SQLite's driver commits each CREATE TABLE on its own unless told otherwise; a hub
    killed while migrating then left tables without a version and never started again."""
    import asyncio
    import sys

    from hub.storage.db import Database

    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}"
    killed = await asyncio.create_subprocess_exec(sys.executable, "-c", _KILLED_MID_MIGRATION, url)
    assert await killed.wait() == -9, "the migration was not interrupted"
    with sa.create_engine(f"sqlite:///{tmp_path / 'hub.sqlite3'}").connect() as conn:
        assert sa.inspect(conn).get_table_names() == [], "a half-done migration was kept"

    db = Database.open(url)
    try:
        await db.migrate()
        async with db.read() as conn:
            version = await conn.exec_driver_sql("SELECT version_num FROM alembic_version")
            assert version.scalar_one() == "0014"
    finally:
        await db.close()
