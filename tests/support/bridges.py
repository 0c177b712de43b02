"""Driving the hub's MQTT bridge in tests: publish as an edge would, take what it hands out."""

from __future__ import annotations

import asyncio
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.bridge.mqtt_bridge import Incoming, MqttBridge


def publish(host: str, port: int, messages: list[tuple[str, bytes, bool]]) -> None:
    """Publish (topic, payload, retain) at QoS 1 and wait until the broker has each one."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-edge-{uuid.uuid4().hex[:8]}")
    client.connect(host, port)
    client.loop_start()
    try:
        infos = [client.publish(t, p, qos=1, retain=r) for t, p, r in messages]
        for info in infos:
            info.wait_for_publish(10)
            assert info.is_published()
    finally:
        client.loop_stop()
        client.disconnect()


async def until_pending(bridge: MqttBridge, count: int, within_s: float = 10.0) -> None:
    """Wait until ``count`` messages wait in the bridge's inbox."""
    for _ in range(int(within_s / 0.05)):
        if bridge.pending() >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{bridge.pending()} messages waiting, expected {count}")


async def take_until_quiet(
    bridge: MqttBridge, quiet_s: float = 1.0, *, ack: bool
) -> list[Incoming]:
    """Take everything the bridge hands out until nothing comes for ``quiet_s``."""
    taken: list[Incoming] = []
    loop = asyncio.get_running_loop()
    last = loop.time()
    while loop.time() - last < quiet_s:
        if bridge.pending():
            batch = await bridge.next_batch(1000, 0.0)
            if ack:
                bridge.ack(batch)
            taken += batch
            last = loop.time()
        await asyncio.sleep(0.05)
    return taken
