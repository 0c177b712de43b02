"""The hub acknowledges a message only after it is stored, on a real Mosquitto.

If the hub stops (or its store fails) between receiving and committing, the
broker still holds the messages and redelivers them to the next hub process
with the same persistent session: nothing acknowledged is lost, and the
event-id dedup makes the redelivery harmless.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion

from chub_mqtt.topics import event_topic
from device_adapters.model import Lane
from hub.ingest import worker as worker_module
from hub.runtime import HubRuntime
from hub.schema.deadletters import dead_letters
from hub.schema.events import events
from hub.settings import Settings
from tests.support.brokers import MosquittoProcess
from tests.support.hubdata import wristband_event
from tests.support.stack import stack_settings

pytestmark = pytest.mark.e2e


def _publisher(broker: MosquittoProcess) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-publisher")
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def _publish_all(client: mqtt.Client, payloads: list[tuple[str, bytes]]) -> None:
    infos = [client.publish(topic, payload, qos=1) for topic, payload in payloads]
    for info in infos:
        info.wait_for_publish(10)
        assert info.is_published()


async def _count(runtime: HubRuntime, table: sa.Table) -> int:
    async with runtime.db.read() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def _wait_for(predicate: object, timeout_s: float = 15.0) -> None:
    assert callable(predicate)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def _events(n: int) -> list[tuple[str, bytes]]:
    out = []
    for i in range(n):
        event = wristband_event("8800000101", "wristband.heartbeat", values={"steps": i})
        out.append(
            (
                event_topic("edge-test", Lane.TELEMETRY, event.device_id),
                event.model_dump_json().encode(),
            )
        )
    return out


async def test_events_published_while_the_hub_is_down_arrive_when_it_returns(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    settings = stack_settings(tmp_path, mosquitto.host, mosquitto.port)
    first = HubRuntime(settings)
    await first.start()
    assert await first.bridge.wait_connected(10)
    await first.stop()  # the persistent session (and its subscription) stays on the broker

    publisher = _publisher(mosquitto)
    try:
        await asyncio.to_thread(_publish_all, publisher, _events(300))
    finally:
        publisher.loop_stop()
        publisher.disconnect()

    second = HubRuntime(settings)
    await second.start()
    try:
        await _wait_for(lambda: _stored_at_least(second, 300))
        assert await _count(second, events) == 300
    finally:
        await second.stop()


async def _stored_at_least(runtime: HubRuntime, n: int) -> bool:
    return await _count(runtime, events) >= n


async def test_messages_received_but_not_stored_are_redelivered(
    mosquitto: MosquittoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings: Settings = stack_settings(tmp_path, mosquitto.host, mosquitto.port)

    async def failing_store(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk unavailable (simulated)")

    monkeypatch.setattr(worker_module, "store_parsed", failing_store)
    broken = HubRuntime(settings)
    await broken.start()
    assert await broken.bridge.wait_connected(10)
    publisher = _publisher(mosquitto)
    payloads = _events(50)
    # A duplicate of the first event: redelivery plus dedup must still store 50.
    payloads.append(payloads[0])
    try:
        await asyncio.to_thread(_publish_all, publisher, payloads)

        async def all_received() -> bool:
            return broken.bridge.received >= 51 and broken.worker.stats.store_failures > 0

        await _wait_for(all_received)
        assert await _count(broken, events) == 0
        await broken.stop()
    finally:
        publisher.loop_stop()
        publisher.disconnect()

    monkeypatch.undo()
    healthy = HubRuntime(settings)
    await healthy.start()
    try:
        await _wait_for(lambda: _stored_at_least(healthy, 50))
        await asyncio.sleep(0.5)  # any extra delivery would have landed by now
        assert await _count(healthy, events) == 50
        assert healthy.worker.stats.duplicates >= 1
    finally:
        await healthy.stop()


async def test_an_invalid_message_becomes_a_dead_letter_and_is_acknowledged(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    settings = stack_settings(tmp_path, mosquitto.host, mosquitto.port)
    runtime = HubRuntime(settings)
    await runtime.start()
    assert await runtime.bridge.wait_connected(10)
    publisher = _publisher(mosquitto)
    try:
        topic = event_topic("edge-test", Lane.ALARM, "watch:1")
        await asyncio.to_thread(
            _publish_all, publisher, [(topic, b'{"kind": "wristband.sos"}'), (topic, b"\xff\xfe")]
        )

        async def two_letters() -> bool:
            return await _count(runtime, dead_letters) >= 2

        await _wait_for(two_letters)
        async with runtime.db.read() as conn:
            rows = (await conn.execute(sa.select(dead_letters))).all()
        assert {row.raw for row in rows} == {b'{"kind": "wristband.sos"}', b"\xff\xfe"}
        assert all(row.reason.startswith("invalid") for row in rows)
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        await runtime.stop()

    # Acknowledged: a new process on the same session gets nothing again.
    again = HubRuntime(settings)
    await again.start()
    try:
        await asyncio.sleep(1.0)
        assert again.bridge.received == 0
        assert await _count(again, dead_letters) == 2
    finally:
        await again.stop()


async def test_the_hub_reconnects_after_a_broker_restart_and_loses_nothing(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    settings = stack_settings(tmp_path, mosquitto.host, mosquitto.port)
    runtime = HubRuntime(settings)
    await runtime.start()
    try:
        assert await runtime.bridge.wait_connected(10)
        before, after = _events(100), _events(100)
        publisher = _publisher(mosquitto)
        await asyncio.to_thread(_publish_all, publisher, before)
        publisher.loop_stop()
        publisher.disconnect()

        await asyncio.to_thread(mosquitto.restart)
        await _wait_for(lambda: _connected_again(runtime), timeout_s=40)

        publisher = _publisher(mosquitto)
        await asyncio.to_thread(_publish_all, publisher, after)
        publisher.loop_stop()
        publisher.disconnect()
        await _wait_for(lambda: _stored_at_least(runtime, 200))
        await asyncio.sleep(0.3)
        assert await _count(runtime, events) == 200
    finally:
        await runtime.stop()


async def _connected_again(runtime: HubRuntime) -> bool:
    return runtime.bridge.connects >= 2 and runtime.bridge.connected
