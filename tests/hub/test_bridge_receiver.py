"""The main MQTT connection in a process of its own (hub/bridge/receiver.py), on a real
Mosquitto: its messages reach the hub through the pipe, the broker forgets them only
once the hub has acknowledged them, a receiver that dies is replaced without losing
any, and a receiver never outlives a hub killed with kill -9."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from chub_mqtt.topics import event_topic
from device_adapters.model import Lane
from hub.bridge.mqtt_bridge import Incoming, MqttBridge
from tests.support.bridges import publish, take_until_quiet
from tests.support.brokers import MosquittoProcess
from tests.support.stack import stack_settings

pytestmark = pytest.mark.e2e

_REPO = Path(__file__).resolve().parents[2]


def _publish(mosquitto: MosquittoProcess, first: int, count: int) -> None:
    publish(
        mosquitto.host,
        mosquitto.port,
        [
            (event_topic("edge-test", Lane.TELEMETRY, f"watch-{n}"), f'{{"n":{n}}}'.encode(), False)
            for n in range(first, first + count)
        ],
    )


def _numbers(items: list[Incoming]) -> list[int]:
    return [json.loads(i.payload)["n"] for i in items]


async def _take(bridge: MqttBridge, count: int, *, ack: bool) -> list[Incoming]:
    taken: list[Incoming] = []
    async with asyncio.timeout(20):
        while len(taken) < count:
            taken += await take_until_quiet(bridge, 0.3, ack=ack)
    return taken


async def _until(condition: Callable[[], bool], within_s: float) -> bool:
    for _ in range(int(within_s / 0.05)):
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie has ended; only its parent's wait is missing


async def test_messages_come_through_the_pipe_and_only_acknowledged_ones_are_forgotten(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    settings = stack_settings(tmp_path, mosquitto.host, mosquitto.port)
    assert settings.mqtt.receiver_process  # the default
    bridge = MqttBridge(settings)
    await bridge.start()
    try:
        assert await bridge.wait_connected(20)
        receiver = bridge._receiver
        assert receiver is not None and receiver.pid not in (None, os.getpid())
        assert bridge.protocols == {"main": "5", "alarms": "5"}
        await asyncio.to_thread(_publish, mosquitto, 0, 30)
        taken = await _take(bridge, 30, ack=False)
        assert _numbers(taken) == list(range(30))  # in order, once each
        assert bridge.received_on["main"] == 30
        bridge.ack(taken[:10])  # the hub stored the first ten only
    finally:
        await bridge.stop()
    assert receiver.pid is not None and not _alive(receiver.pid)

    again = MqttBridge(settings)  # same client id: the same persistent session
    await again.start()
    try:
        assert await again.wait_connected(20)
        redelivered = await _take(again, 20, ack=True)
        assert _numbers(redelivered) == list(range(10, 30))
        assert all(i.redelivered for i in redelivered)
    finally:
        await again.stop()

    last = MqttBridge(settings)
    await last.start()
    try:
        assert await last.wait_connected(20)
        assert await take_until_quiet(last, 1.5, ack=True) == []  # all acknowledged now
    finally:
        await last.stop()


async def test_a_receiver_that_dies_is_replaced_and_what_it_held_comes_again(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    bridge = MqttBridge(stack_settings(tmp_path, mosquitto.host, mosquitto.port))
    await bridge.start()
    try:
        assert await bridge.wait_connected(20)
        receiver = bridge._receiver
        assert receiver is not None and receiver.pid is not None
        first_pid = receiver.pid
        await asyncio.to_thread(_publish, mosquitto, 0, 20)
        held = await _take(bridge, 20, ack=False)

        os.kill(first_pid, signal.SIGKILL)
        assert await _until(lambda: receiver.generation == 2 and bridge.connected, 30)
        assert receiver.restarts == 1 and receiver.pid != first_pid

        bridge.ack(held)  # their connection is gone: not acknowledged, counted
        assert bridge.stale_acks_skipped == 20
        redelivered = await _take(bridge, 20, ack=True)
        assert _numbers(redelivered) == list(range(20))
        await asyncio.to_thread(_publish, mosquitto, 20, 5)
        assert _numbers(await _take(bridge, 5, ack=True)) == list(range(20, 25))
    finally:
        await bridge.stop()


_HUB = """
import asyncio, sys
from hub.bridge.mqtt_bridge import MqttBridge
from hub.settings import MqttSettings, Settings

async def main():
    mqtt = MqttSettings(port=int(sys.argv[1]), client_id="killed-hub")
    bridge = MqttBridge(Settings(mqtt=mqtt))
    await bridge.start()
    assert await bridge.wait_connected(20)
    print(bridge._receiver.pid, flush=True)
    await asyncio.sleep(3600)

if __name__ == "__main__":
    asyncio.run(main())
"""


async def test_a_receiver_does_not_outlive_a_hub_killed_with_kill_9(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    script = tmp_path / "hub_to_kill.py"
    script.write_text(_HUB)
    hub = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        str(mosquitto.port),
        stdout=asyncio.subprocess.PIPE,
        cwd=_REPO,
    )
    try:
        assert hub.stdout is not None
        child = int(await asyncio.wait_for(hub.stdout.readline(), 60))
        assert _alive(child)
        hub.kill()  # SIGKILL: the hub gets no chance to stop anything
        await asyncio.wait_for(hub.wait(), 10)
        gone = await _until(lambda: not _alive(child), 10)
        assert gone, "the receiver kept the hub's MQTT session after the hub died"
    finally:
        if hub.returncode is None:
            hub.kill()
            await hub.wait()
