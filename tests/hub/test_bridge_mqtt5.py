"""The hub's MQTT connections speak MQTT 5 where the broker does, 3.1.1 where it does not.

On a real Mosquitto: both connections are MQTT 5, the broker keeps to the
main connection's Receive Maximum (no more unacknowledged messages than the
inbox holds, whatever the worker has taken), and the persistent session
outlives the hub (its expiry is "never"). On the demo's embedded amqtt broker,
which speaks only 3.1.1, each connection falls back and events still flow.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chub_mqtt.topics import event_topic
from community_hub_tools.broker.embedded import EmbeddedBroker
from device_adapters.model import Lane
from hub.bridge.mqtt_bridge import MqttBridge
from tests.support.bridges import publish, take_until_quiet, until_pending
from tests.support.brokers import MosquittoProcess
from tests.support.hubdata import wristband_event
from tests.support.stack import stack_settings

pytestmark = pytest.mark.e2e


def _publish(host: str, port: int, count: int, lane: Lane = Lane.TELEMETRY) -> None:
    messages = []
    for i in range(count):
        event = wristband_event("8800000555", "wristband.heartbeat", values={"steps": i})
        topic = event_topic("edge-test", lane, event.device_id)
        messages.append((topic, event.model_dump_json().encode(), False))
    publish(host, port, messages)


async def test_mosquitto_keeps_to_the_main_connections_receive_maximum(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    settings = stack_settings(tmp_path, mosquitto.host, mosquitto.port)
    bridge = MqttBridge(settings, inbox_limit=40)
    await bridge.start()
    try:
        assert await bridge.wait_connected(10)
        assert bridge.protocols == {"main": "5", "alarms": "5"}
        await asyncio.to_thread(_publish, mosquitto.host, mosquitto.port, 300)
        # The inbox is emptied as fast as it fills, so only the broker can hold back.
        first = await take_until_quiet(bridge, ack=False)
        # (The inbox may have filled once meanwhile; taken, it no longer holds the reader.)
        assert len(first) == 40, f"the broker sent {len(first)} unacknowledged, window 40"
        # Each acknowledgement opens the window again, until all 300 came once.
        taken = first
        async with asyncio.timeout(30):
            while len(taken) < 300:
                bridge.ack(taken[-40:])
                taken += await take_until_quiet(bridge, 0.5, ack=False)
        steps = [int(i.payload.split(b'"steps":')[1].split(b"}")[0]) for i in taken]
        assert steps == list(range(300))  # in order, none twice
    finally:
        await bridge.stop()


async def test_an_mqtt5_session_outlives_the_hub(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    """Session expiry 'never': what is published while the hub is away waits for it."""
    settings = stack_settings(tmp_path, mosquitto.host, mosquitto.port)
    first = MqttBridge(settings)
    await first.start()
    assert await first.wait_connected(10)
    await first.stop()

    await asyncio.to_thread(_publish, mosquitto.host, mosquitto.port, 5, Lane.TELEMETRY)
    await asyncio.to_thread(_publish, mosquitto.host, mosquitto.port, 2, Lane.ALARM)

    again = MqttBridge(settings)
    await again.start()
    try:
        assert await again.wait_connected(10)
        assert again.protocols == {"main": "5", "alarms": "5"}
        await until_pending(again, 7)
        lanes = [i.lane for i in await again.next_batch(100, 0.0)]
        lanes += [i.lane for i in await again.next_batch(100, 0.0)]
        assert sorted(lane.value for lane in lanes if lane) == ["alarm"] * 2 + ["telemetry"] * 5
    finally:
        await again.stop()


async def test_on_a_broker_without_mqtt5_each_connection_falls_back_to_311(
    embedded_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = stack_settings(tmp_path, embedded_broker.host, embedded_broker.port)
    bridge = MqttBridge(settings)
    await bridge.start()
    try:
        assert await bridge.wait_connected(20)
        assert bridge.protocols == {"main": "3.1.1", "alarms": "3.1.1"}
        await asyncio.to_thread(_publish, embedded_broker.host, embedded_broker.port, 3)
        await asyncio.to_thread(_publish, embedded_broker.host, embedded_broker.port, 1, Lane.ALARM)
        await until_pending(bridge, 4)
    finally:
        await bridge.stop()
