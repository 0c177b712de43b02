"""Device availability: connection state and heartbeat timeouts per family, published
retained for the hub. The gateway test runs the whole edge against a real Mosquitto; the
others drive one real server each (TCP, WebSocket, HTTP, MQTT) into a tracker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import websockets

from chub_mqtt.topics import availability_topic
from community_hub_tools.sim.door_gate import SimulatedGate
from community_hub_tools.sim.locks import SimulatedZ2mLock
from device_adapters import watch
from device_adapters.model import DeadLetter, DeviceAvailability, DeviceEvent, DeviceFamily
from edge.availability import AvailabilityTracker
from edge.commands import CommandRunner
from edge.gateway import EdgeGateway
from edge.http_push import HttpPushServer
from edge.mqtt_devices import LocalMqttDevices
from edge.ocpp_server import OcppServer
from edge.settings import EdgeSettings
from edge.stream_server import StreamServer
from tests.support.brokers import MosquittoProcess, MqttRecorder, free_port

GW = "gw-avail-test"
WATCH = "8800000015"
WATCH_ID = f"watch:{WATCH}"


class RecordingUplink:
    def __init__(self) -> None:
        self.events: list[DeviceEvent] = []
        self.dead_letters: list[DeadLetter] = []

    async def publish_event(self, event: DeviceEvent) -> None:
        self.events.append(event)

    async def publish_dead_letter(self, dl: DeadLetter) -> None:
        self.dead_letters.append(dl)


class RecordingPublisher:
    """The tracker's publisher, recording (topic, report, retain)."""

    def __init__(self) -> None:
        self.published: list[tuple[str, DeviceAvailability, bool]] = []

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.published.append((topic, DeviceAvailability.model_validate_json(payload), retain))

    def states(self, device_id: str) -> list[tuple[bool, str]]:
        return [(r.online, r.reason) for _, r, _ in self.published if r.device_id == device_id]


async def wait_until(predicate: Callable[[], bool], within_s: float, what: str) -> None:
    step = 0.02
    for _ in range(int(within_s / step)):
        if predicate():
            return
        await asyncio.sleep(step)
    assert predicate(), f"not within {within_s}s: {what}"


def settings_for(**overrides: Any) -> EdgeSettings:
    values: dict[str, Any] = {"gateway_id": GW, "edge_host": "127.0.0.1"}
    values.update(overrides)
    return EdgeSettings(**values)


def lk(device: str = WATCH) -> bytes:
    return watch.encode_frame("3G", device, "LK,0,10,100")


@asynccontextmanager
async def tcp(port: int) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def say(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], frame: bytes) -> bytes:
    reader, writer = conn
    writer.write(frame)
    await writer.drain()
    async with asyncio.timeout(5):
        return await reader.readuntil(b"]")


# -- the whole edge, a real broker -----------------------------------------------------


def retained_reports(rec: MqttRecorder, device_id: str) -> list[tuple[bool, str]]:
    topic = availability_topic(GW, device_id)
    return [
        (r.online, r.reason)
        for r in (
            DeviceAvailability.model_validate_json(m.payload)
            for m in list(rec.messages)
            if m.topic == topic
        )
    ]


async def test_watch_connection_and_silence_are_published_retained(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    settings = settings_for(
        mqtt_host=mosquitto.host,
        mqtt_port=mosquitto.port,
        data_dir=tmp_path,
        edge_servers=["watch"],
        watch_port=free_port(),
        offline_after_s_wristband=0.6,
    )
    hub = MqttRecorder("test-hub-availability")
    hub.connect(mosquitto.host, mosquitto.port)
    hub.subscribe(availability_topic(GW, "+"))
    gateway = EdgeGateway(settings)
    await gateway.start()
    try:
        async with tcp(gateway.watch_server.port) as conn:
            assert await say(conn, lk()) == b"[3G*8800000015*0002*LK]"
            await wait_until(lambda: retained_reports(hub, WATCH_ID) != [], 5, "online")
            assert retained_reports(hub, WATCH_ID) == [(True, "connected")]
            # Frames within the limit publish nothing more.
            await say(conn, lk())
            # Silent past the wristband limit: offline although the socket is open.
            await wait_until(lambda: len(retained_reports(hub, WATCH_ID)) == 2, 5, "timeout")
            assert retained_reports(hub, WATCH_ID)[-1] == (False, "heartbeat_timeout")
            assert WATCH_ID in gateway.watch_server.connected_devices
            await say(conn, lk())
            await wait_until(lambda: len(retained_reports(hub, WATCH_ID)) == 3, 5, "back")
            assert retained_reports(hub, WATCH_ID)[-1] == (True, "reported")
        await wait_until(lambda: len(retained_reports(hub, WATCH_ID)) == 4, 5, "disconnect")
        assert retained_reports(hub, WATCH_ID)[-1] == (False, "disconnected")
    finally:
        await gateway.stop()
        hub.close()
    # Someone subscribing later reads the last state: it was retained.
    late = MqttRecorder("test-hub-late")
    late.connect(mosquitto.host, mosquitto.port)
    try:
        late.subscribe(availability_topic(GW, "+"))
        assert late.wait_for_count(1, 5) >= 1
        message = next(m for m in late.messages if m.topic == availability_topic(GW, WATCH_ID))
        assert message.retain
        report = DeviceAvailability.model_validate_json(message.payload)
        assert (report.online, report.reason, report.gateway_id) == (False, "disconnected", GW)
    finally:
        late.close()


async def test_a_device_online_before_a_crash_times_out_unless_it_returns(
    mosquitto: MosquittoProcess,
) -> None:
    """Retained "online" from a previous run is read back and subject to the timeout."""
    previous = DeviceAvailability(
        device_id="watch:8800000099",
        gateway_id=GW,
        online=True,
        reason="connected",
        at=datetime.now(UTC),
    )
    stale = MqttRecorder("test-previous-run")
    stale.connect(mosquitto.host, mosquitto.port)
    stale.client.publish(
        availability_topic(GW, previous.device_id),
        previous.model_dump_json().encode(),
        qos=1,
        retain=True,
    ).wait_for_publish(5)
    stale.close()

    settings = settings_for(
        mqtt_host=mosquitto.host, mqtt_port=mosquitto.port, offline_after_s_wristband=0.5
    )
    tracker = AvailabilityTracker(settings)
    runner = CommandRunner(settings, {}, availability=tracker)
    hub = MqttRecorder("test-hub-restore")
    hub.connect(mosquitto.host, mosquitto.port)
    hub.subscribe(availability_topic(GW, "+"))
    await tracker.start()
    await runner.start()
    try:
        await wait_until(lambda: tracker.stats.restored == 1, 5, "restored from retained")
        assert tracker.is_online(previous.device_id) is True
        await wait_until(
            lambda: (False, "heartbeat_timeout") in retained_reports(hub, previous.device_id),
            5,
            "offline after the timeout",
        )
    finally:
        await runner.stop()
        await tracker.stop()
        hub.close()


# -- one server each, into a recording publisher -----------------------------------------


async def test_stream_server_reconnect_does_not_flap_and_close_is_offline() -> None:
    publisher = RecordingPublisher()
    tracker = AvailabilityTracker(settings_for(), publisher)
    server = StreamServer(
        watch.ADAPTER, settings_for(), RecordingUplink(), port=0, availability=tracker
    )
    await server.start()
    try:
        async with tcp(server.port) as old:
            await say(old, lk())
            async with tcp(server.port) as new:
                # A reconnect before the old connection died: still online, no change.
                await say(new, lk())
                assert publisher.states(WATCH_ID) == [(True, "connected")]
            # The current (new) connection closed: offline.
            await wait_until(lambda: len(publisher.states(WATCH_ID)) == 2, 5, "offline")
        # The old one closing afterwards changes nothing.
        await asyncio.sleep(0.2)
    finally:
        await server.stop()
    assert publisher.states(WATCH_ID) == [(True, "connected"), (False, "disconnected")]
    assert all(retain for _, _, retain in publisher.published)
    assert publisher.published[0][0] == availability_topic(GW, WATCH_ID)


async def test_ocpp_connect_and_disconnect() -> None:
    publisher = RecordingPublisher()
    tracker = AvailabilityTracker(settings_for(), publisher)
    server = OcppServer(
        settings_for(), RecordingUplink(), host="127.0.0.1", port=0, availability=tracker
    )
    await server.start()
    try:
        url = f"ws://127.0.0.1:{server.port}/ocpp/CP-A"
        async with websockets.connect(url, subprotocols=["ocpp1.6"]) as ws:
            await wait_until(lambda: tracker.is_online("ocpp:CP-A") is True, 5, "online")
            await ws.send('[2,"1","Heartbeat",{}]')
            assert '"currentTime"' in str(await ws.recv())
        await wait_until(lambda: tracker.is_online("ocpp:CP-A") is False, 5, "offline")
    finally:
        await server.stop()
    assert publisher.states("ocpp:CP-A") == [(True, "connected"), (False, "disconnected")]


async def test_http_push_gate_is_online_when_it_pushes_and_offline_when_silent() -> None:
    publisher = RecordingPublisher()
    settings = settings_for(offline_after_s_door=0.4)
    tracker = AvailabilityTracker(settings, publisher)
    server = HttpPushServer(
        settings, RecordingUplink(), host="127.0.0.1", port=free_port(), availability=tracker
    )
    gate = SimulatedGate("gate-a")
    await tracker.start()
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            base = f"http://127.0.0.1:{server.port}"
            assert (await gate.push(client, base, gate.heartbeat())).status_code == 200
            assert tracker.is_online("hik:gate-a") is True
            assert (await gate.push(client, base, gate.door_opened())).status_code == 200
            await wait_until(lambda: tracker.is_online("hik:gate-a") is False, 5, "timed out")
            assert (await gate.push(client, base, gate.heartbeat())).status_code == 200
    finally:
        await server.stop()
        await tracker.stop()
    assert publisher.states("hik:gate-a") == [
        (True, "reported"),
        (False, "heartbeat_timeout"),
        (True, "reported"),
    ]


async def test_zigbee2mqtt_availability_messages(mosquitto: MosquittoProcess) -> None:
    publisher = RecordingPublisher()
    settings = settings_for(mqtt_host=mosquitto.host, mqtt_port=mosquitto.port)
    tracker = AvailabilityTracker(settings, publisher)
    devices = LocalMqttDevices(settings, RecordingUplink(), availability=tracker)
    lock = SimulatedZ2mLock("garage")
    bridge = MqttRecorder("test-z2m")
    bridge.connect(mosquitto.host, mosquitto.port)
    await devices.start()
    try:
        async with asyncio.timeout(10):
            await devices.wait_connected()
        for message in (lock.availability(True), lock.state(), lock.availability(False)):
            await asyncio.to_thread(bridge.publish_many, message[0], [message[1]])
        await wait_until(lambda: len(publisher.states("z2m:garage")) == 2, 5, "two changes")
        await asyncio.sleep(0.2)
    finally:
        await devices.stop()
        bridge.close()
    assert publisher.states("z2m:garage") == [(True, "bridge_online"), (False, "bridge_offline")]


def test_heartbeat_limits_differ_by_family_and_zero_disables() -> None:
    clock = [0.0]
    settings = settings_for(
        offline_after_s_wristband=100, offline_after_s_charger=10, offline_after_s_lock=0
    )
    tracker = AvailabilityTracker(settings, RecordingPublisher(), clock=lambda: clock[0])
    tracker.online("watch:1", DeviceFamily.WRISTBAND)
    tracker.online("ocpp:1", DeviceFamily.CHARGER)
    tracker.online("z2m:1", DeviceFamily.LOCK)
    clock[0] = 50
    assert tracker.sweep() == ["ocpp:1"]
    clock[0] = 10_000
    assert tracker.sweep() == ["watch:1"]
    assert tracker.is_online("z2m:1") is True
