"""The bridge hands alarms out on their own: an SOS never shares a transaction with a
backlog of heartbeats (the SOS latency benchmark's finding), and its inbox is bounded:
a full inbox holds the main connection's network thread instead of growing."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

from chub_mqtt.topics import event_topic
from device_adapters.model import Lane
from hub.bridge.mqtt_bridge import MqttBridge
from hub.settings import MqttSettings, Settings


def _deliver(bridge: MqttBridge, mid: int, lane: Lane) -> None:
    message: Any = SimpleNamespace(
        mid=mid,
        qos=1,
        topic=event_topic("edge-1", lane, f"watch:{mid}"),
        payload=b"{}",
        dup=0,
        retain=0,
    )
    # What a paho network thread calls: alarms arrive on their own connection.
    client = bridge._alarms if lane is Lane.ALARM else bridge._main
    assert client is not None
    client._on_message(None, None, message)


def _bridge(inbox_limit: int | None = None) -> MqttBridge:
    bridge = MqttBridge(
        Settings(mqtt=MqttSettings(receiver_process=False)), inbox_limit=inbox_limit
    )
    # What start() records; no broker needed here.
    for client in (bridge._alarms, bridge._main):
        assert client is not None
        client._loop = asyncio.get_running_loop()
    return bridge


async def test_alarms_come_first_and_alone_then_telemetry_in_full_batches() -> None:
    bridge = _bridge()
    for mid in range(1, 301):
        _deliver(bridge, mid, Lane.TELEMETRY)
    _deliver(bridge, 1001, Lane.ALARM)
    _deliver(bridge, 1002, Lane.ALARM)

    first = await bridge.next_batch(500, 0.0)
    assert [i.mid for i in first] == [1001, 1002]
    second = await bridge.next_batch(200, 0.0)
    assert [i.mid for i in second] == list(range(1, 201))  # in arrival order
    third = await bridge.next_batch(200, 0.0)
    assert [i.mid for i in third] == list(range(201, 301))
    assert bridge.pending() == 0


async def test_a_full_inbox_stops_reading_the_main_connection_until_the_worker_takes() -> None:
    bridge = _bridge(inbox_limit=10)
    network_thread = threading.Thread(
        target=lambda: [_deliver(bridge, mid, Lane.TELEMETRY) for mid in range(1, 26)]
    )
    network_thread.start()
    await asyncio.sleep(0.3)
    assert network_thread.is_alive(), "the network thread kept reading into a full inbox"
    assert bridge.pending() == 10 and bridge.reading_paused == 1

    # Alarms come on the other connection and are never held back by a full inbox.
    await asyncio.to_thread(_deliver, bridge, 1001, Lane.ALARM)
    assert [i.mid for i in await bridge.next_batch(5, 0.0)] == [1001]

    taken: list[int] = []
    async with asyncio.timeout(10):
        while len(taken) < 25:
            taken += [i.mid for i in await bridge.next_batch(5, 0.0)]
            await asyncio.sleep(0.05)
    await asyncio.to_thread(network_thread.join, 5)
    assert not network_thread.is_alive()
    assert taken == list(range(1, 26))  # nothing dropped, order kept
