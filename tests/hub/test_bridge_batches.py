"""The bridge hands alarms out on their own: an SOS never shares a transaction with a
backlog of heartbeats (the SOS latency benchmark's finding)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from device_adapters.model import Lane
from hub.bridge.mqtt_bridge import MqttBridge
from hub.bridge.topics import event_topic
from hub.settings import Settings


def _deliver(bridge: MqttBridge, mid: int, lane: Lane) -> None:
    message: Any = SimpleNamespace(
        mid=mid, qos=1, topic=event_topic("edge-1", lane, f"watch:{mid}"), payload=b"{}", dup=0
    )
    bridge._on_message(bridge._client, None, message)  # what paho's network thread calls


async def test_alarms_come_first_and_alone_then_telemetry_in_full_batches() -> None:
    bridge = MqttBridge(Settings())
    bridge._loop = asyncio.get_running_loop()  # what start() records; no broker needed here
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
