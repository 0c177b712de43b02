"""The migrations run on PostgreSQL as on SQLite: up to head, down to nothing, up again."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from hub.storage.db import Database
from hub.storage.migrate import alembic_config
from hub.storage.schema import metadata


def _tables(connection: Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names()) - {"alembic_version"}


def _down_to_base(connection: Connection) -> None:
    command.downgrade(alembic_config(connection), "base")


async def test_migrations_go_up_down_and_up_again_on_postgres(postgres_url: str) -> None:
    db = Database.open(postgres_url)
    try:
        await db.migrate()
        async with db.read() as conn:
            assert await conn.run_sync(_tables) == set(metadata.tables)
        async with db.write() as conn:
            await conn.run_sync(_down_to_base)
        async with db.read() as conn:
            assert await conn.run_sync(_tables) == set()
        await db.migrate()
        async with db.read() as conn:
            assert await conn.run_sync(_tables) == set(metadata.tables)
    finally:
        await db.close()


async def test_three_hubs_starting_at_once_migrate_once(postgres_url: str) -> None:
    hubs = [Database.open(postgres_url) for _ in range(3)]
    try:
        await asyncio.gather(*(hub.migrate() for hub in hubs))  # one migrates, two wait
        async with hubs[0].read() as conn:
            versions = (
                await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            ).all()
            assert len(versions) == 1
            assert await conn.run_sync(_tables) == set(metadata.tables)
    finally:
        for hub in hubs:
            await hub.close()
