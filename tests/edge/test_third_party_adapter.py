"""A third-party stream adapter, installed as a package, is served and commanded with no
edit of the hub: found through its ``community_hub.adapters`` entry point, its server run
by a real edge gateway on a real TCP port, its events published through the outbox to a
real Mosquitto, and a hub command for its device built by its own builder and written to
the device's connection."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from chub_mqtt.topics import command_topic
from device_adapters.base import StreamAdapter
from device_adapters.model import (
    CommandResult,
    CommandStatus,
    DeadLetter,
    DeviceCommand,
    DeviceEvent,
)
from device_adapters.registry import load_adapters
from edge.gateway import EdgeGateway
from edge.settings import EdgeSettings
from edge.stream_server import StreamServer
from tests.edge.acme_lock_source import ACME_LOCK_MODULE
from tests.support.brokers import MosquittoProcess, MqttRecorder, free_port

GW = "gw-acme"
LOCK = "acme:L7"


@pytest.fixture
def acme_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """``acme_lock_adapter`` installed as pip would (module + dist-info); yields its port."""
    site = tmp_path / "site-packages"
    site.mkdir()
    port = free_port()
    (site / "acme_lock_adapter.py").write_text(ACME_LOCK_MODULE.replace("DEFAULT_PORT", str(port)))
    info = site / "acme_lock_adapter-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-lock-adapter\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[community_hub.adapters]\nacme_lock = acme_lock_adapter:ADAPTER\n"
    )
    monkeypatch.syspath_prepend(str(site))
    try:
        yield port
    finally:
        sys.modules.pop("acme_lock_adapter", None)


async def wait_for(predicate: object, within_s: float, what: str) -> None:
    assert callable(predicate)
    for _ in range(int(within_s / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    assert predicate(), f"not within {within_s}s: {what}"


async def read_line(reader: asyncio.StreamReader) -> bytes:
    async with asyncio.timeout(10):
        return await reader.readline()


async def test_an_installed_stream_adapter_is_served_and_commanded(
    acme_installed: int, mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    assert "acme_lock" in load_adapters()
    settings = EdgeSettings(
        mqtt_host=mosquitto.host,
        mqtt_port=mosquitto.port,
        gateway_id=GW,
        edge_host="127.0.0.1",
        edge_servers=["acme_lock"],  # EDGE_SERVERS=acme_lock: configuration, not code
        edge_command_timeout_s=5.0,
        data_dir=tmp_path / "edge",
    )
    hub = MqttRecorder("acme-hub")
    hub.connect(mosquitto.host, mosquitto.port)
    hub.subscribe(f"chub/v1/edge/{GW}/events/#")
    hub.subscribe(f"chub/v1/edge/{GW}/command-results/+")
    gateway = EdgeGateway(settings)
    server = gateway.servers["acme_lock"]
    assert isinstance(server, StreamServer)
    # The adapter's own default port: no port setting names it.
    assert server.port == acme_installed
    await gateway.start()
    writer = None
    try:
        async with asyncio.timeout(10):
            await gateway.uplink.wait_connected()
            await gateway.commands.wait_connected()
        reader, writer = await asyncio.open_connection("127.0.0.1", acme_installed)
        writer.write(b"ACME L7 HELLO\n")
        # Answered once the event is safely in the edge's outbox.
        assert await read_line(reader) == b"ACK\n"

        def events() -> list[DeviceEvent]:
            return [
                DeviceEvent.model_validate_json(m.payload)
                for m in list(hub.messages)
                if "/events/" in m.topic
            ]

        await wait_for(lambda: events(), 10, "the lock's event on the broker")
        (login,) = events()
        assert (login.device_id, login.kind, login.protocol) == (LOCK, "device.login", "acme_lock")

        now = datetime.now(UTC)
        command = DeviceCommand(
            command_id=uuid4(),
            device_id=LOCK,
            gateway_id=GW,
            kind="lock.unlock",
            issued_at=now,
            expires_at=now + timedelta(seconds=30),
        )
        await asyncio.to_thread(
            hub.publish_many, command_topic(GW, LOCK), [command.model_dump_json().encode()]
        )
        # The adapter's builder made these bytes; the edge wrote them to the connection.
        assert await read_line(reader) == b"ACME L7 UNLOCK\n"
        writer.write(b"ACME L7 UNLOCKED\n")
        assert await read_line(reader) == b"ACK\n"

        def results() -> list[CommandResult]:
            return [
                CommandResult.model_validate_json(m.payload)
                for m in list(hub.messages)
                if "/command-results/" in m.topic
            ]

        await wait_for(
            lambda: any(r.status is CommandStatus.ACCEPTED for r in results()),
            10,
            "the command accepted",
        )
        assert [(r.status, r.detail) for r in results()] == [
            (CommandStatus.DELIVERED, ""),
            (CommandStatus.ACCEPTED, "lock answered UNLOCKED"),
        ]
        # The answer is an event too, forwarded from the outbox on its own time.
        await wait_for(lambda: len(events()) == 2, 10, "the answer's event on the broker")
        assert [e.kind for e in events()] == ["device.login", "lock.state"]
    finally:
        if writer is not None:
            writer.close()
        await gateway.stop()
        hub.client.loop_stop()
        hub.client.disconnect()


async def test_a_command_the_installed_builder_refuses_fails_with_its_words(
    acme_installed: int, mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    """A kind its builder does not serve for that device is FAILED before any delivery."""
    settings = EdgeSettings(
        mqtt_host=mosquitto.host,
        mqtt_port=mosquitto.port,
        gateway_id=GW,
        edge_host="127.0.0.1",
        edge_servers=["acme_lock"],
        edge_ports={"acme_lock": free_port()},
        data_dir=tmp_path / "edge",
    )
    hub = MqttRecorder("acme-hub")
    hub.connect(mosquitto.host, mosquitto.port)
    hub.subscribe(f"chub/v1/edge/{GW}/command-results/+")
    gateway = EdgeGateway(settings)
    server = gateway.servers["acme_lock"]
    assert isinstance(server, StreamServer)
    assert server.port == settings.edge_ports["acme_lock"]  # EDGE_PORTS wins
    await gateway.start()
    try:
        async with asyncio.timeout(10):
            await gateway.commands.wait_connected()
        now = datetime.now(UTC)
        command = DeviceCommand(
            command_id=uuid4(),
            device_id=LOCK,
            gateway_id=GW,
            kind="charger.remote_start",
            params={"port": 1, "id_tag": "T"},
            issued_at=now,
            expires_at=now + timedelta(seconds=30),
        )
        await asyncio.to_thread(
            hub.publish_many, command_topic(GW, LOCK), [command.model_dump_json().encode()]
        )
        await wait_for(lambda: hub.messages, 10, "a result")
        result = json.loads(hub.messages[0].payload)
        assert result["status"] == "failed"
        assert "needs an OCPP charger" in result["detail"]
    finally:
        await gateway.stop()
        hub.client.loop_stop()
        hub.client.disconnect()


class RecordingUplink:
    def __init__(self) -> None:
        self.events: list[DeviceEvent] = []
        self.dead_letters: list[DeadLetter] = []

    async def publish_event(self, event: DeviceEvent) -> None:
        self.events.append(event)

    async def publish_dead_letter(self, dl: DeadLetter) -> None:
        self.dead_letters.append(dl)


async def test_a_bug_in_an_installed_adapter_is_a_dead_letter_not_a_dropped_device(
    acme_installed: int,
) -> None:
    """An adapter raising something else than its DecodeError keeps the frame and the
    connection: the frame is dead-lettered with the error and the device still answered."""
    adapter = load_adapters()["acme_lock"]
    assert isinstance(adapter, StreamAdapter)

    def buggy(line: Any, **kwargs: Any) -> list[DeviceEvent]:
        if line.word == "UNLOCKED":
            raise KeyError("lock_state")
        return list(adapter.to_events(line, **kwargs))

    uplink = RecordingUplink()
    settings = EdgeSettings(gateway_id=GW, edge_host="127.0.0.1")
    server = StreamServer(replace(adapter, to_events=buggy), settings, uplink, port=0)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"ACME L7 HELLO\nACME L7 UNLOCKED\nACME L7 LOCKED\n")
        assert [await read_line(reader) for _ in range(3)] == [b"ACK\n"] * 3
        writer.close()
    finally:
        await server.stop()
    assert [e.kind for e in uplink.events] == ["device.login", "lock.state"]
    (dead,) = uplink.dead_letters
    assert dead.raw == b"ACME L7 UNLOCKED\n"
    assert dead.reason == "adapter error: KeyError: 'lock_state'"
