"""store_batch against a real SQLite file: dedup, alert attach, ticket routing, dead letters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from device_adapters.model import DeadLetter, DeviceFamily
from hub.ingest.flows import store_batch
from hub.schema.alerts import alerts
from hub.schema.deadletters import dead_letters
from hub.schema.devices import devices
from hub.schema.events import events
from hub.schema.tickets import ticket_log, tickets
from hub.schema.users import users
from hub.storage.db import Database
from tests.support.hubdata import (
    device_event,
    open_seeded_db,
    volunteer_on_duty_for,
    wristband_event,
)

SUN = "8800000101"  # seeded wearer in grid 1
ZHOU = "8800000202"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_seeded_db(tmp_path)
    yield database
    await database.close()


async def _count(db: Database, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    async with db.read() as conn:
        return int(
            (
                await conn.execute(sa.select(sa.func.count()).select_from(table).where(*where))
            ).scalar_one()
        )


async def test_sos_opens_one_alert_and_a_ticket_for_the_volunteer_on_duty(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.write() as conn:
        outcome = await store_batch(conn, [wristband_event(SUN, "wristband.sos")], [], now)
    assert outcome.stored == 1 and len(outcome.alerts_opened) == 1
    assert len(outcome.tickets_opened) == 1
    opened = outcome.tickets_opened[0]
    # In the community's language (Simplified Chinese), the address from the largest place
    # to the smallest; and in English, as the household's address is written.
    assert opened.title.startswith("一键求助：孙丽华")
    assert opened.title.endswith("，朝阳花园社区 · 1号楼 · 1单元 · 101室")
    assert opened.titles["zh-CN"] == opened.title
    assert "孙丽华" in opened.titles["en"]
    assert opened.titles["en"].startswith("SOS: ")
    assert opened.titles["en"].endswith(" at 朝阳花园社区1号楼1单元101室")

    async with db.read() as conn:
        ticket = (await conn.execute(sa.select(tickets))).one()
        assignee = (
            await conn.execute(sa.select(users.c.username).where(users.c.id == ticket.assignee_id))
        ).scalar_one()
        log = (await conn.execute(sa.select(ticket_log.c.action).order_by(ticket_log.c.id))).all()
    assert assignee == await volunteer_on_duty_for(db, SUN, now)
    assert ticket.status == "dispatched" and ticket.priority == "urgent"
    assert ticket.alert_id == outcome.alerts_opened[0]
    assert [row.action for row in log] == ["registered", "dispatched"]


async def test_repeats_attach_to_the_open_alert_and_open_no_new_ticket(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.write() as conn:
        await store_batch(conn, [wristband_event(SUN, "wristband.sos")], [], now)
    async with db.write() as conn:
        outcome = await store_batch(
            conn,
            [wristband_event(SUN, "wristband.sos"), wristband_event(SUN, "wristband.sos")],
            [],
            now,
        )
    assert outcome.alerts_opened == [] and len(outcome.alerts_attached) == 2
    assert await _count(db, alerts) == 1
    assert await _count(db, tickets) == 1
    async with db.read() as conn:
        assert (await conn.execute(sa.select(alerts.c.event_count))).scalar_one() == 3
    # Every repeat is kept as an event linked to the alert.
    assert await _count(db, events, events.c.alert_id.is_not(None)) == 3


async def test_repeats_within_one_batch_are_counted_once_at_their_latest_time(
    db: Database,
) -> None:
    # Repeats in a batch are counted in memory and written once (hub/alerts/repeats.py):
    # the count and the latest time must come out as if each had been written alone,
    # also when the batch's events are out of time order.
    base = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    minutes = [0, 7, 3, 5]
    async with db.write() as conn:
        await store_batch(
            conn,
            [
                wristband_event(SUN, "wristband.geofence_exit", received_at=base.replace(minute=m))
                for m in minutes
            ],
            [],
            base,
        )
    async with db.write() as conn:
        second = await store_batch(
            conn,
            [wristband_event(SUN, "wristband.geofence_exit", received_at=base.replace(minute=6))],
            [],
            base,
        )
    assert second.alerts_opened == [] and len(second.alerts_attached) == 1
    async with db.read() as conn:
        alert = (await conn.execute(sa.select(alerts))).one()
    assert alert.event_count == 5
    assert alert.last_event_at == base.replace(minute=7)  # minute 6 came later, but is older
    assert await _count(db, events, events.c.alert_id == alert.id) == 5


async def test_a_clear_within_a_batch_lets_a_later_repeat_open_a_new_alert(db: Database) -> None:
    base = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    kinds = ["wristband.geofence_exit", "wristband.geofence_exit", "wristband.geofence_enter"]
    kinds += ["wristband.geofence_exit", "wristband.geofence_exit"]
    async with db.write() as conn:
        outcome = await store_batch(
            conn,
            [
                wristband_event(SUN, kind, received_at=base.replace(minute=n))
                for n, kind in enumerate(kinds)
            ],
            [],
            base,
        )
    assert len(outcome.alerts_opened) == 2 and len(outcome.alerts_attached) == 2
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(alerts).order_by(alerts.c.id))).all()
    assert [(r.status, r.event_count) for r in rows] == [("cleared", 2), ("open", 2)]
    assert rows[0].last_event_at == base.replace(minute=1)
    assert rows[1].last_event_at == base.replace(minute=4)


async def test_a_fall_is_a_separate_alert_from_an_sos(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.write() as conn:
        outcome = await store_batch(
            conn,
            [wristband_event(SUN, "wristband.sos"), wristband_event(SUN, "wristband.fall")],
            [],
            now,
        )
    assert len(outcome.alerts_opened) == 2 and len(outcome.tickets_opened) == 2


async def test_a_cleared_alert_lets_the_next_sos_open_a_new_one(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.write() as conn:
        await store_batch(conn, [wristband_event(SUN, "wristband.sos")], [], now)
        await conn.execute(alerts.update().values(status="cleared", cleared_at=now))
    async with db.write() as conn:
        outcome = await store_batch(conn, [wristband_event(SUN, "wristband.sos")], [], now)
    assert len(outcome.alerts_opened) == 1
    assert await _count(db, alerts) == 2


async def test_redelivered_event_ids_are_stored_once(db: Database) -> None:
    event = wristband_event(SUN, "wristband.sos")
    now = datetime.now(UTC)
    async with db.write() as conn:
        first = await store_batch(conn, [event, event], [], now)
    async with db.write() as conn:
        second = await store_batch(conn, [event], [], now)
    assert (first.stored, first.duplicates) == (1, 1)
    assert (second.stored, second.duplicates) == (0, 1)
    assert second.alerts_attached == [] and second.alerts_opened == []
    assert await _count(db, events) == 1
    async with db.read() as conn:
        assert (await conn.execute(sa.select(alerts.c.event_count))).scalar_one() == 1


async def test_device_state_follows_events(db: Database) -> None:
    now = datetime.now(UTC)
    batch = [
        wristband_event(ZHOU, "wristband.heartbeat", values={"battery_pct": 64, "steps": 1200}),
        wristband_event(ZHOU, "wristband.removed", values={"battery_pct": 63}),
    ]
    async with db.write() as conn:
        await store_batch(conn, batch, [], now)
    async with db.read() as conn:
        row = (await conn.execute(sa.select(devices).where(devices.c.id == f"watch:{ZHOU}"))).one()
    assert row.battery_pct == 63
    assert row.state["worn"] is False and row.state["steps"] == 1200
    assert row.last_seen_at is not None and row.registered


async def test_an_unregistered_device_is_kept_and_its_sos_still_becomes_a_ticket(
    db: Database,
) -> None:
    now = datetime.now(UTC)
    async with db.write() as conn:
        outcome = await store_batch(conn, [wristband_event("4700186508", "wristband.sos")], [], now)
    assert len(outcome.tickets_opened) == 1
    assert outcome.tickets_opened[0].assignee_id is None
    async with db.read() as conn:
        device = (
            await conn.execute(sa.select(devices).where(devices.c.id == "watch:4700186508"))
        ).one()
        ticket = (await conn.execute(sa.select(tickets))).one()
        notes = (await conn.execute(sa.select(ticket_log.c.note))).scalars().all()
    assert device.registered is False
    assert ticket.status == "registered"
    assert any("not placed in the grid" in note for note in notes)


async def test_dead_letters_are_kept_once_with_their_bytes(db: Database) -> None:
    letter = DeadLetter(
        dead_letter_id=uuid.uuid4(),
        gateway_id="edge-test",
        source="watch-tcp 127.0.0.1:5555",
        protocol="watch",
        received_at=datetime.now(UTC),
        reason="bad length",
        raw=b"[3G*123*ZZZZ*\xff]",
    )
    for _ in range(2):
        async with db.write() as conn:
            await store_batch(conn, [], [letter], datetime.now(UTC))
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(dead_letters))).all()
    assert len(rows) == 1 and rows[0].raw == b"[3G*123*ZZZZ*\xff]"


async def test_a_fault_back_before_its_ticket_is_resolved_joins_that_ticket(
    db: Database,
) -> None:
    charger = "ocpp:CP-P1-01"
    fault = {"port": 1, "availability": "out_of_order", "error_code": "GroundFailure"}
    back = {"port": 1, "availability": "available", "error_code": "NoError"}
    batches = [
        [device_event(charger, DeviceFamily.CHARGER, "charger.fault", fault)],
        [device_event(charger, DeviceFamily.CHARGER, "charger.port_status", back)],
        [device_event(charger, DeviceFamily.CHARGER, "charger.fault", fault)],
    ]
    outcomes = []
    for batch in batches:
        async with db.write() as conn:
            outcomes.append(await store_batch(conn, batch, [], datetime.now(UTC)))
    assert len(outcomes[0].tickets_opened) == 1 and outcomes[1].alerts_cleared
    assert len(outcomes[2].alerts_opened) == 1 and outcomes[2].tickets_opened == []
    ticket_id = outcomes[0].tickets_opened[0].ticket_id
    async with db.read() as conn:
        count = (await conn.execute(sa.select(sa.func.count()).select_from(tickets))).scalar_one()
        notes = (
            (
                await conn.execute(
                    sa.select(ticket_log.c.note).where(
                        ticket_log.c.ticket_id == ticket_id, ticket_log.c.action == "alert_repeated"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert count == 1
    again = outcomes[2].alerts_opened[0]
    assert notes == [f"alert {again} (charger.fault) opened again while this ticket is open"]
    [told] = [n for n in outcomes[2].notifications if n.kind == "ticket.alert_repeated"]
    assert told.ticket_id == ticket_id and told.recipients.roles  # unassigned: staff hear
