"""Schema migrations carry a database from the first version to the newest and back."""

from __future__ import annotations

from pathlib import Path

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
        assert {"device_commands", "gateways"} <= tables
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001")
        assert "device_commands" not in set(sa.inspect(conn).get_table_names())
        assert conn.execute(sa.text("SELECT id FROM devices")).scalar_one() == "watch:1"
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        assert version == "0002"
