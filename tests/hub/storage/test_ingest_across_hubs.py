"""Two hubs storing into one PostgreSQL database at the same moment.

Each hub has its own engine, as separate processes do. Hub A's transaction is
held open while hub B stores, which is the moment that matters: B must wait
for A, then see what A committed (or, if A died, do the work itself).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from device_adapters.model import DeviceEvent
from hub.ingest.flows import BatchOutcome, store_batch
from hub.schema.devices import devices
from hub.schema.events import events
from hub.schema.tickets import tickets
from hub.settings import DatabaseSettings, MqttSettings, Settings
from hub.storage.db import Database
from tests.support.hubdata import wristband_event
from tests.support.postgres import PostgresServer

SUN = "8800000101"  # 孙丽华's wristband, seeded in grid 1
HELD_S = 0.5  # how long hub A keeps its transaction open while B tries


@pytest.fixture
def db_url(postgres_server: PostgresServer) -> Iterator[str]:
    with postgres_server.fresh_database(template=postgres_server.seeded_template()) as url:
        yield url


@pytest.fixture
async def two_hubs(db_url: str) -> AsyncIterator[tuple[Database, Database]]:
    a, b = Database.open(db_url), Database.open(db_url)
    yield a, b
    await a.close()
    await b.close()


async def _store(db: Database, batch: list[DeviceEvent]) -> BatchOutcome:
    async with db.write() as conn:
        return await store_batch(conn, batch, [], datetime.now(UTC))


async def _count(db: Database, table: sa.Table) -> int:
    async with db.read() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def test_one_sos_given_to_two_hubs_at_once_is_handled_by_one(
    two_hubs: tuple[Database, Database],
) -> None:
    a, b = two_hubs
    sos = wristband_event(SUN, "wristband.sos")
    tickets_before = await _count(a, tickets)
    async with a.write() as conn:
        first = await store_batch(conn, [sos], [], datetime.now(UTC))
        second_task = asyncio.create_task(_store(b, [sos]))
        await asyncio.sleep(HELD_S)
        assert not second_task.done(), "hub B must wait for hub A's transaction"
    second = await second_task

    assert (first.stored, len(first.tickets_opened)) == (1, 1)
    assert first.notifications
    assert (second.stored, second.duplicates) == (0, 1)
    assert not second.tickets_opened and not second.notifications and not second.events
    assert await _count(a, tickets) == tickets_before + 1


async def test_a_hub_that_dies_mid_transaction_leaves_the_event_to_the_other(
    two_hubs: tuple[Database, Database],
) -> None:
    a, b = two_hubs
    sos = wristband_event(SUN, "wristband.sos")
    tickets_before = await _count(a, tickets)
    dying = a.engine.connect()
    conn = await dying.start()
    await conn.begin()
    await store_batch(conn, [sos], [], datetime.now(UTC))
    second_task = asyncio.create_task(_store(b, [sos]))
    await asyncio.sleep(HELD_S)
    assert not second_task.done()
    await conn.invalidate()  # the connection drops without a commit, as on kill -9
    await dying.close()
    second = await asyncio.wait_for(second_task, 30)

    assert (second.stored, len(second.tickets_opened)) == (1, 1)
    assert await _count(a, tickets) == tickets_before + 1
    assert await _count(a, events) >= 1


async def test_two_hubs_folding_one_device_at_once_keep_both_changes(
    two_hubs: tuple[Database, Database],
) -> None:
    a, b = two_hubs
    t0 = datetime.now(UTC)
    removed = wristband_event(SUN, "wristband.removed", received_at=t0)
    later = wristband_event(
        SUN, "wristband.heartbeat", received_at=t0 + timedelta(seconds=1), values={"steps": 7}
    )
    async with a.write() as conn:
        await store_batch(conn, [removed], [], t0)
        second_task = asyncio.create_task(_store(b, [later]))
        await asyncio.sleep(HELD_S)
        assert not second_task.done(), "hub B must wait for the device row"
    await second_task

    async with a.read() as conn:
        state = (
            await conn.execute(sa.select(devices.c.state).where(devices.c.id == f"watch:{SUN}"))
        ).scalar_one()
    # B folded its heartbeat into A's committed state instead of overwriting it.
    assert state["worn"] is False
    assert state["steps"] == 7
    assert datetime.fromisoformat(state["last_event_at"]) == later.received_at


async def test_an_older_event_stored_later_does_not_turn_the_state_back(
    two_hubs: tuple[Database, Database],
) -> None:
    a, b = two_hubs
    t0 = datetime.now(UTC)
    newer = wristband_event(SUN, "wristband.worn", received_at=t0 + timedelta(seconds=5))
    older = wristband_event(SUN, "wristband.removed", received_at=t0)
    await _store(a, [newer])
    outcome = await _store(b, [older])  # it reached the other hub, which was slower

    assert outcome.stored == 1  # kept in the history
    async with a.read() as conn:
        state = (
            await conn.execute(sa.select(devices.c.state).where(devices.c.id == f"watch:{SUN}"))
        ).scalar_one()
    assert state["worn"] is True
    assert datetime.fromisoformat(state["last_event_at"]) == newer.received_at


def test_several_hubs_on_sqlite_are_refused_with_the_reason(tmp_path: Path) -> None:
    group = MqttSettings(shared_group="hubs")
    with pytest.raises(ValidationError, match=r"HUB_MQTT_SHARED_GROUP .* needs a PostgreSQL"):
        Settings(mqtt=group, data_dir=tmp_path)
    sqlite = DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/hub.db")
    with pytest.raises(ValidationError, match=r"HUB_MQTT_SHARED_GROUP .* needs a PostgreSQL"):
        Settings(mqtt=group, database=sqlite)
