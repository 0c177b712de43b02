"""Test data: a migrated, demo-seeded database and events as the edge would send them."""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import sqlalchemy as sa

from community_hub_tools.demo.seed import seed_demo
from device_adapters.kinds import KINDS
from device_adapters.model import DeviceEvent, DeviceFamily
from hub.duty.service import on_duty
from hub.notifications.base import Notification
from hub.schema.grid import buildings, households
from hub.schema.residents import residents
from hub.schema.users import users
from hub.storage.db import Database

# The file a migrated, seeded store starts as, made once per process: the seed hashes
# every demo password, more than a second of CPU per test (as postgres.seeded_template).
_seeded_sqlite: bytes | None = None


async def _migrate_and_seed(db: Database) -> None:
    await db.migrate()
    async with db.write() as conn:
        await seed_demo(conn)


async def _seeded_sqlite_bytes() -> bytes:
    global _seeded_sqlite
    if _seeded_sqlite is None:
        with tempfile.TemporaryDirectory(prefix="hub-seeded-") as directory:
            path = Path(directory) / "hub.sqlite3"
            db = Database.open(f"sqlite+aiosqlite:///{path}")
            try:
                await _migrate_and_seed(db)
            finally:
                await db.close()
            # serialize(): the whole database, also what might still be in its WAL file.
            with contextlib.closing(sqlite3.connect(path)) as source:
                _seeded_sqlite = source.serialize()
    return _seeded_sqlite


async def open_seeded_db(directory: Path) -> Database:
    """A store migrated to head with the demo community, in ``directory/hub.sqlite3``.

    A store already there is migrated and seeded where it is (the seed adds nothing to
    a seeded one); a new one is a copy of the seeded file.
    """
    path = directory / "hub.sqlite3"
    if path.exists():
        db = Database.open(f"sqlite+aiosqlite:///{path}")
        await _migrate_and_seed(db)
        return db
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(await _seeded_sqlite_bytes())
    return Database.open(f"sqlite+aiosqlite:///{path}")


def wristband_event(
    native_id: str,
    kind: str,
    *,
    event_id: UUID | None = None,
    received_at: datetime | None = None,
    values: dict[str, float | int | str | bool | None] | None = None,
) -> DeviceEvent:
    info = KINDS[kind]
    return DeviceEvent(
        event_id=event_id or uuid4(),
        device_id=f"watch:{native_id}",
        family=DeviceFamily.WRISTBAND,
        protocol="watch",
        kind=kind,
        severity=info.severity,
        lane=info.lane,
        received_at=received_at or datetime.now(UTC),
        gateway_id="edge-test",
        values=values or {},
        raw=b"[3G*" + native_id.encode() + b"*0002*LK]",
    )


def device_event(
    device_id: str,
    family: DeviceFamily,
    kind: str,
    values: dict[str, float | int | str | bool | None] | None = None,
    *,
    received_at: datetime | None = None,
) -> DeviceEvent:
    info = KINDS[kind]
    return DeviceEvent(
        event_id=uuid4(),
        device_id=device_id,
        family=family,
        protocol=device_id.split(":", 1)[0],
        kind=kind,
        severity=info.severity,
        lane=info.lane,
        received_at=received_at or datetime.now(UTC),
        gateway_id="edge-test",
        values=values or {},
    )


async def volunteer_on_duty_for(db: Database, native_id: str, at: datetime) -> str:
    """Username of the primary volunteer on duty, now, in the grid of a seeded wearer's home."""
    from hub.schema.devices import devices

    async with db.read() as conn:
        grid_id = (
            await conn.execute(
                sa.select(buildings.c.grid_id)
                .select_from(
                    devices.join(residents, residents.c.id == devices.c.resident_id)
                    .join(households, households.c.id == residents.c.household_id)
                    .join(buildings, buildings.c.id == households.c.building_id)
                )
                .where(devices.c.id == f"watch:{native_id}")
            )
        ).scalar_one()
        user_ids = await on_duty(conn, grid_id, at)
        assert user_ids, "the demo rota must cover every hour"
        return str(
            (
                await conn.execute(sa.select(users.c.username).where(users.c.id == user_ids[0]))
            ).scalar_one()
        )


async def user_id_of(db: Database, username: str) -> int:
    async with db.read() as conn:
        return int(
            (
                await conn.execute(sa.select(users.c.id).where(users.c.username == username))
            ).scalar_one()
        )


async def households_by_grid(db: Database) -> dict[int, list[int]]:
    """The seeded households, by grid id."""
    async with db.read() as conn:
        rows = await conn.execute(
            sa.select(buildings.c.grid_id, households.c.id)
            .select_from(households.join(buildings, buildings.c.id == households.c.building_id))
            .order_by(households.c.id)
        )
        found: dict[int, list[int]] = {}
        for grid_id, household_id in rows:
            found.setdefault(int(grid_id), []).append(int(household_id))
        return found


class RecordingNotifier:
    """A notification plugin that keeps what it was given (for tests of who is told what)."""

    def __init__(self) -> None:
        self.seen: list[Notification] = []

    async def notify(self, notification: Notification) -> None:
        self.seen.append(notification)

    def kinds(self) -> list[str]:
        return [n.kind for n in self.seen]
