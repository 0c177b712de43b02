"""Who may speak for which device, and one bad record never stops the rest.

Real SQLite file, the demo seed, and the ingest worker's own parse and store
path (``IngestWorker._store_until_done``) fed with MQTT messages as the broker
hands them over. The broker-side half of the trust model (the shipped ACL) is
checked against a real Mosquitto in tests/e2e/test_forged_alarms.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from chub_mqtt.topics import event_topic
from device_adapters.model import EVENT_MAX_RAW, DeviceEvent, Lane
from hub.bridge.mqtt_bridge import Incoming
from hub.deadletters.bounds import DeadLetterBounds, Limits, use_bounds
from hub.devices.sources import move_device
from hub.ingest.worker import IngestWorker
from hub.schema.alerts import alerts
from hub.schema.deadletters import dead_letters
from hub.schema.devices import devices
from hub.schema.events import events
from hub.schema.grid import communities
from hub.schema.tickets import tickets
from hub.settings import IngestSettings
from hub.storage.db import Database
from tests.support.hubdata import open_seeded_db, wristband_event

SUN = "8800000101"  # a seeded wearer
ZHOU = "8800000202"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_seeded_db(tmp_path)
    yield database
    await database.close()


def _message(event: DeviceEvent, *, topic: str | None = None, payload: bytes | None = None) -> Any:
    topic = topic or event_topic(event.gateway_id, event.lane, event.device_id)
    body = event.model_dump_json().encode() if payload is None else payload
    lane = Lane.ALARM if "/events/alarm/" in topic else Lane.TELEMETRY
    return Incoming(1, 1, topic, body, lane, False, 1)


def replace(event: DeviceEvent, **changes: Any) -> DeviceEvent:
    """A copy with other fields, unvalidated: what a forger or a broken edge could send."""
    return event.model_copy(update=changes)


def _event(native: str, kind: str, gateway: str = "edge-1") -> DeviceEvent:
    return replace(wristband_event(native, kind), gateway_id=gateway)


def _worker(db: Database, tmp_path: Path) -> IngestWorker:
    # The bridge is not used by _store_until_done.
    return IngestWorker(db, None, IngestSettings())  # type: ignore[arg-type]


async def _rows(db: Database, query: sa.Select[Any]) -> list[Any]:
    async with db.read() as conn:
        return list(await conn.execute(query))


async def _count(db: Database, table: sa.Table) -> int:
    return len(await _rows(db, sa.select(table)))


async def test_a_device_speaks_only_through_the_gateway_it_is_bound_to(
    db: Database, tmp_path: Path
) -> None:
    worker = _worker(db, tmp_path)
    # The first gateway to report a device without a binding becomes its gateway.
    await worker._store_until_done([_message(_event(SUN, "wristband.heartbeat"))])
    bound = await _rows(db, sa.select(devices.c.gateway_id).where(devices.c.id == f"watch:{SUN}"))
    assert bound[0].gateway_id == "edge-1"

    # Another account, publishing under its own topics, forges an SOS for that watch.
    forged = _event(SUN, "wristband.sos", gateway="zigbee2mqtt")
    outcome, confirm = await worker._store_until_done([_message(forged)])
    assert outcome.stored == 0 and outcome.alerts_opened == [] and outcome.tickets_opened == []
    assert await _count(db, alerts) == 0 and await _count(db, tickets) == 0
    letters = await _rows(db, sa.select(dead_letters))
    assert len(letters) == 1
    assert "registered behind gateway 'edge-1'" in letters[0].reason
    assert letters[0].gateway_id == "zigbee2mqtt" and letters[0].device_id == f"watch:{SUN}"
    # The forger's own copy is settled (kept as a dead letter), never confirmed to edge-1.
    assert confirm == {"zigbee2mqtt": [str(forged.event_id)]}

    # An admin moves the watch to another gateway: from then on that one speaks for it.
    async with db.write() as conn:
        assert await move_device(conn, f"watch:{SUN}", "edge-2")
    moved = _event(SUN, "wristband.sos", gateway="edge-2")
    outcome, _ = await worker._store_until_done([_message(moved)])
    assert outcome.stored == 1 and len(outcome.tickets_opened) == 1


@pytest.mark.parametrize(
    ("case", "why"),
    [
        ("gateway", "topic names gateway 'edge-9' but the payload 'edge-1'"),
        ("device", "topic names device 'watch:8800000202' but the payload 'watch:8800000101'"),
        ("lane", "wristband.heartbeat travels on the telemetry lane, not alarm"),
        ("topic_lane", "event on the telemetry lane says it belongs to the alarm lane"),
        ("raw", f"raw has {EVENT_MAX_RAW + 1} bytes; at most {EVENT_MAX_RAW}"),
        ("values", "values has 65 entries; at most 64"),
        ("size", "message of 31457280 bytes; at most 131072"),
    ],
)
async def test_a_message_its_topic_does_not_vouch_for_is_a_dead_letter(
    db: Database, tmp_path: Path, case: str, why: str
) -> None:
    sos = _event(SUN, "wristband.sos")
    if case == "gateway":
        message = _message(sos, topic=event_topic("edge-9", Lane.ALARM, sos.device_id))
    elif case == "device":
        message = _message(sos, topic=event_topic("edge-1", Lane.ALARM, f"watch:{ZHOU}"))
    elif case == "lane":
        # A heartbeat dressed up as an alarm to jump the queue.
        beat = replace(_event(SUN, "wristband.heartbeat"), lane=Lane.ALARM)
        message = _message(beat)
    elif case == "topic_lane":
        message = _message(sos, topic=event_topic("edge-1", Lane.TELEMETRY, sos.device_id))
    elif case == "raw":
        message = _message(replace(sos, raw=b"x" * (EVENT_MAX_RAW + 1)))
    elif case == "values":
        message = _message(replace(sos, values={f"k{i}": i for i in range(65)}))
    else:
        # The 30 MB event that was once accepted, stored and served whole.
        message = _message(sos, payload=b"{" + b" " * (30 * 1024 * 1024 - 2) + b"}")
    outcome, _ = await _worker(db, tmp_path)._store_until_done([message])
    assert outcome.stored == 0 and outcome.tickets_opened == []
    assert await _count(db, events) == 0 and await _count(db, alerts) == 0
    (letter,) = await _rows(db, sa.select(dead_letters))
    assert letter.reason.startswith(why)
    assert letter.source == f"mqtt {message.topic}"
    # What is kept of the bytes is bounded, far below the 30 MB that arrived.
    assert 0 < len(letter.raw) <= 128 * 1024


async def test_one_event_that_cannot_be_stored_is_set_aside_and_the_rest_are_stored(
    db: Database, tmp_path: Path
) -> None:
    """A community's broken data must not stop everyone's alarms (it once stalled ingest)."""
    async with db.write() as conn:
        await conn.execute(
            sa.text(
                "CREATE TRIGGER broken BEFORE INSERT ON events WHEN NEW.device_id = 'watch:"
                + ZHOU
                + "' BEGIN SELECT RAISE(ABORT, 'broken community data'); END"
            )
        )
    poison = _event(ZHOU, "wristband.heartbeat")
    batch = [_message(_event(SUN, "wristband.heartbeat")) for _ in range(20)]
    batch.insert(7, _message(poison))
    worker = _worker(db, tmp_path)
    outcome, confirm = await worker._store_until_done(batch)
    assert outcome.stored == 20
    assert await _count(db, events) == 20
    (letter,) = await _rows(db, sa.select(dead_letters))
    assert "broken community data" in letter.reason
    assert letter.raw == poison.model_dump_json().encode()
    assert worker.stats.isolated == 1 and worker.stats.failing_since is None
    assert worker.stats.last_commit_at is not None
    # Every message is settled: 20 stored, 1 kept as a dead letter.
    sent = [str(DeviceEvent.model_validate_json(m.payload).event_id) for m in batch]
    assert sorted(confirm["edge-1"]) == sorted(sent)

    # And the alarm behind it gets through as usual.
    sos = _event(SUN, "wristband.sos")
    outcome, _ = await worker._store_until_done([_message(sos)])
    assert outcome.stored == 1 and len(outcome.tickets_opened) == 1


async def test_a_store_that_fails_for_everyone_is_retried_not_dead_lettered(
    db: Database, tmp_path: Path
) -> None:
    """When even a dead letter cannot be stored, the fault is the database's: keep trying."""
    async with db.write() as conn:
        for table in ("events", "dead_letters"):
            await conn.execute(
                sa.text(
                    f"CREATE TRIGGER broken_{table} BEFORE INSERT ON {table}"
                    " BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
                )
            )
    worker = _worker(db, tmp_path)
    sos = _event(SUN, "wristband.sos")
    task = asyncio.create_task(worker._store_until_done([_message(sos)]))

    async def failing() -> bool:
        return worker.stats.failing_since is not None and worker.stats.store_failures >= 3

    for _ in range(600):
        if await failing():
            break
        await asyncio.sleep(0.05)
    assert await failing()
    assert not task.done()
    assert await _count(db, dead_letters) == 0
    async with db.write() as conn:
        await conn.execute(sa.text("DROP TRIGGER broken_events"))
        await conn.execute(sa.text("DROP TRIGGER broken_dead_letters"))
    outcome, _ = await asyncio.wait_for(task, 60)
    assert outcome.stored == 1 and len(outcome.tickets_opened) == 1
    assert worker.stats.failing_since is None and worker.stats.isolated == 0


async def test_an_alarm_set_aside_is_kept_even_past_the_dead_letter_bound(
    db: Database, tmp_path: Path
) -> None:
    """Garbage from a gateway fills its dead-letter bound; an SOS that cannot be stored
    is still kept whole, never sampled away with the garbage."""
    use_bounds(db, DeadLetterBounds(Limits(per_gateway_letters=3, sample_every=1000)))
    garbage = [
        Incoming(1, 1, "chub/v1/edge/edge-1/deadletters", b"not json %d" % i, None, False, 1)
        for i in range(10)
    ]
    await _worker(db, tmp_path)._store_until_done(garbage)
    assert await _count(db, dead_letters) < 10  # the bound held (3, and one sample)
    async with db.write() as conn:
        await conn.execute(
            sa.text(
                "CREATE TRIGGER broken BEFORE INSERT ON events"
                " BEGIN SELECT RAISE(ABORT, 'broken community data'); END"
            )
        )
    sos = _event(SUN, "wristband.sos")
    worker = _worker(db, tmp_path)
    await worker._store_until_done([_message(sos)])
    assert worker.stats.isolated == 1
    kept = await _rows(db, sa.select(dead_letters).where(dead_letters.c.reason.contains("broken")))
    assert len(kept) == 1 and kept[0].raw == sos.model_dump_json().encode()


async def test_a_community_with_an_unknown_time_zone_still_gets_its_sos_to_a_volunteer(
    db: Database, tmp_path: Path
) -> None:
    async with db.write() as conn:
        await conn.execute(communities.update().values(timezone="Mars/Olympus_Mons"))
    outcome, _ = await _worker(db, tmp_path)._store_until_done(
        [_message(_event(SUN, "wristband.sos"))]
    )
    assert outcome.stored == 1 and len(outcome.tickets_opened) == 1
    assert outcome.tickets_opened[0].assignee_id is not None
