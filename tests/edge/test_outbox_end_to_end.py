"""The outbox's end-to-end acknowledgement, with a real MqttUplink and a real Mosquitto.

A paho client stands in for the hub: it records the events on the broker and
publishes what the real hub publishes after a commit (chub_mqtt.topics:
the gateway's ``committed`` topic, and its own retained status).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import uuid4

import orjson
import pytest

from chub_mqtt.topics import committed_topic, hub_status_topic
from device_adapters.model import EVENT_MAX_RAW, DeviceEvent
from edge.outbox import Outbox
from edge.settings import EdgeSettings
from edge.uplink import MqttUplink
from tests.edge.test_outbox import GW, SOS, file_rows, make_event, make_settings, wait_until
from tests.support.brokers import MosquittoProcess, MqttRecorder


@pytest.fixture
def hub(mosquitto: MosquittoProcess) -> Iterator[MqttRecorder]:
    rec = MqttRecorder(f"test-e2e-hub-{uuid4().hex[:8]}", clean_session=False)
    rec.connect(mosquitto.host, mosquitto.port)
    rec.subscribe(f"chub/v1/edge/{GW}/events/#", qos=1)
    try:
        yield rec
    finally:
        rec.close()


def _ids_on_broker(hub: MqttRecorder) -> list[str]:
    return [str(DeviceEvent.model_validate_json(p).event_id) for p in hub.payloads()]


def _confirm(hub: MqttRecorder, ids: list[str]) -> None:
    hub.client.publish(committed_topic(GW), orjson.dumps({"ids": ids}), qos=1).wait_for_publish(5)


def _hub_status(hub: MqttRecorder, online: bool) -> None:
    payload = b"online" if online else b"offline"
    hub.client.publish(hub_status_topic("hub-1"), payload, qos=1, retain=True).wait_for_publish(5)


@contextlib.asynccontextmanager
async def edge(settings: EdgeSettings) -> AsyncIterator[Outbox]:
    uplink = MqttUplink(settings)
    outbox = Outbox(settings, uplink, end_to_end=True)
    uplink.listen(outbox.confirm, outbox.hub_status)
    await outbox.open()
    await uplink.start()
    try:
        async with asyncio.timeout(10):
            await uplink.wait_connected()
        await outbox.start()
        yield outbox
    finally:
        await outbox.stop()
        await uplink.stop()


async def test_an_event_leaves_the_outbox_only_when_the_hub_confirms_it(
    mosquitto: MosquittoProcess, hub: MqttRecorder, tmp_path: Path
) -> None:
    settings = make_settings(mosquitto, tmp_path)
    sent = [make_event("watch:4700000300", i) for i in range(5)] + [
        make_event("watch:4700000300", 99, SOS)
    ]
    async with edge(settings) as outbox:
        for event in sent:
            await outbox.publish_event(event)
        await asyncio.to_thread(hub.wait_for_count, 6, 10)
        await wait_until(lambda: outbox.stats.awaiting_confirmation == 6, 10, "marked sent")
        # The broker has them all, and the edge still keeps them all.
        assert len(file_rows(settings.resolved_outbox_path)) == 6
        await asyncio.to_thread(_confirm, hub, [str(e.event_id) for e in sent[:4]])
        await wait_until(lambda: outbox.stats.confirmed == 4, 10, "four confirmed")
        await outbox.backlog()  # commits the deletes
        left = {r["item_id"] for r in file_rows(settings.resolved_outbox_path)}
        assert left == {str(e.event_id) for e in sent[4:]}
        # A malformed confirmation deletes nothing.
        await asyncio.to_thread(
            hub.client.publish(committed_topic(GW), b'{"ids": 7}', qos=1).wait_for_publish, 5
        )
        await asyncio.to_thread(_confirm, hub, [str(e.event_id) for e in sent[4:]])
        await wait_until(lambda: outbox.stats.confirmed == 6, 10, "all confirmed")
        await outbox.backlog()
        assert file_rows(settings.resolved_outbox_path) == []


async def test_unconfirmed_events_go_out_again_only_once_a_hub_has_been_online(
    mosquitto: MosquittoProcess, hub: MqttRecorder, tmp_path: Path
) -> None:
    settings = make_settings(mosquitto, tmp_path, edge_resend_after_s=1.0)
    sos = make_event("watch:4700000301", 1, SOS)
    await asyncio.to_thread(_hub_status, hub, False)
    async with edge(settings) as outbox:
        await outbox.publish_event(sos)
        await asyncio.to_thread(hub.wait_for_count, 1, 10)
        # No hub online: the broker keeps the copy for the hub, and nothing is resent.
        await asyncio.sleep(3.5)
        assert outbox.stats.resent == 0 and len(hub.payloads()) == 1
        # A hub comes online and does not confirm (the broker lost its copy): resent.
        await asyncio.to_thread(_hub_status, hub, True)
        await wait_until(lambda: outbox.stats.resent >= 1, 30, "resent")
        await asyncio.to_thread(hub.wait_for_count, 2, 10)
        assert set(_ids_on_broker(hub)) == {str(sos.event_id)}
        await asyncio.to_thread(_confirm, hub, [str(sos.event_id)])
        await wait_until(lambda: outbox.stats.backlog == 0, 10, "confirmed and gone")
    await asyncio.to_thread(_hub_status, hub, False)


async def test_an_oversized_event_is_kept_as_a_dead_letter_not_forwarded(
    mosquitto: MosquittoProcess, hub: MqttRecorder, tmp_path: Path
) -> None:
    settings = make_settings(mosquitto, tmp_path)
    big = make_event("watch:4700000302", 1).model_copy(update={"raw": b"x" * (EVENT_MAX_RAW * 4)})
    async with edge(settings) as outbox:
        await outbox.publish_event(big)
        await outbox.backlog()
        (row,) = file_rows(settings.resolved_outbox_path)
        assert row["kind"] == "dead_letter"
        assert f"raw has {EVENT_MAX_RAW * 4} bytes" in row["payload"]
        assert len(row["payload"]) < EVENT_MAX_RAW * 2


def test_an_outbox_file_of_schema_1_is_upgraded_with_its_ids(tmp_path: Path) -> None:
    """Items left by the previous version keep their place and get their ids."""
    path = tmp_path / "outbox.sqlite3"
    event = make_event("watch:4700000303", 1)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(
            "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, lane TEXT NOT NULL,"
            " device_id TEXT, kind TEXT NOT NULL, event_kind TEXT, payload TEXT NOT NULL,"
            " size INTEGER NOT NULL, created_at REAL NOT NULL); PRAGMA user_version = 1;"
        )
        conn.execute(
            "INSERT INTO outbox (lane, device_id, kind, event_kind, payload, size, created_at)"
            " VALUES ('telemetry', ?, 'event', ?, ?, 100, 0)",
            (event.device_id, event.kind, event.model_dump_json()),
        )
        conn.commit()

    async def reopen() -> int:
        outbox = Outbox(
            EdgeSettings(data_dir=tmp_path, edge_outbox_path=path), _NoUplink(), end_to_end=True
        )
        await outbox.open()
        backlog = (await outbox.backlog()).items
        await outbox.stop()
        return backlog

    assert asyncio.run(reopen()) == 1
    (row,) = file_rows(path)
    assert row["item_id"] == str(event.event_id) and row["sent_at"] is None


class _NoUplink:
    async def publish_event(self, event: DeviceEvent) -> None:
        raise AssertionError("not forwarding in this test")

    async def publish_dead_letter(self, dl: object) -> None:
        raise AssertionError("not forwarding in this test")
