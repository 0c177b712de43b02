"""Cross-process locks for several hubs on one PostgreSQL database.

On SQLite there is one writer per database file anyway, so each helper is a
no-op there. On PostgreSQL the locks are transaction-scoped: they are released
at commit or rollback, and also when a hub dies (its connection drops and the
server rolls its transaction back), so a killed hub never leaves one behind.

Every helper takes its locks in sorted order, so two transactions locking
overlapping sets wait for each other instead of deadlocking.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

# Advisory-lock key spaces (the two-int form: space, key), so hub locks never
# collide with another application's advisory locks on the same server.
_EVENT_SPACE = 0x4855_4201  # "HUB" 1: event ids being ingested
_MIGRATION_SPACE = 0x4855_4202  # "HUB" 2: schema migration

_LOCK_EVENTS = sa.text(
    "SELECT pg_advisory_xact_lock(:space, k) FROM unnest(CAST(:keys AS integer[])) AS k"
).bindparams(sa.bindparam("keys", type_=postgresql.ARRAY(sa.Integer)))


def _event_key(event_id: uuid.UUID) -> int:
    """A 32-bit signed key per event id; two ids sharing a key just wait for each other."""
    return int.from_bytes(event_id.bytes[:4], "big", signed=True)


async def lock_event_ids(conn: AsyncConnection, event_ids: Iterable[uuid.UUID]) -> None:
    """Hold the events' ids until this transaction ends.

    Two hubs handed the same event (an edge republished it, or the broker
    redelivered it to another member of the shared group) serialize here: the
    second one's duplicate check then sees the first one's committed row.
    """
    if conn.dialect.name != "postgresql":
        return
    keys = sorted({_event_key(i) for i in event_ids})
    if keys:
        await conn.execute(_LOCK_EVENTS, {"space": _EVENT_SPACE, "keys": keys})


async def lock_rows(conn: AsyncConnection, table: sa.Table, ids: Iterable[object]) -> None:
    """SELECT ... FOR UPDATE the rows with these primary keys, in key order.

    Read-modify-write of such a row (a device's folded state) is then one
    process at a time; the later one reads what the earlier one committed.
    """
    if conn.dialect.name != "postgresql":
        return
    wanted = sorted(set(ids), key=str)
    (key,) = table.primary_key.columns
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        await conn.execute(sa.select(key).where(key.in_(chunk)).order_by(key).with_for_update())


def lock_migrations(connection: Connection) -> None:
    """One hub migrates at a time; the others then find the schema at head."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(:space, 0)"), {"space": _MIGRATION_SPACE}
        )
