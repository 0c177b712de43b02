"""LocalMqttDevices against a real Mosquitto, with a recording fake uplink: Zigbee2MQTT and
Tuya reports become events, garbage becomes dead letters, and a message is acknowledged
only once the uplink took what it gave."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import pytest_asyncio

from community_hub_tools.sim.locks import SimulatedTuyaLock, SimulatedZ2mLock
from device_adapters.model import DeadLetter, DeviceEvent
from edge.mqtt_devices import LocalMqttDevices, Route, route_topic
from edge.settings import EdgeSettings
from edge.uplink import UplinkError
from tests.support.brokers import MosquittoProcess, MqttRecorder

GW = "gw-locks-test"


class RecordingUplink:
    def __init__(self, *, failing: bool = False) -> None:
        self.events: list[DeviceEvent] = []
        self.dead_letters: list[DeadLetter] = []
        self.failing = failing
        self.attempts = 0

    async def publish_event(self, event: DeviceEvent) -> None:
        self.attempts += 1
        if self.failing:
            raise UplinkError("broker unreachable")
        self.events.append(event)

    async def publish_dead_letter(self, dl: DeadLetter) -> None:
        self.attempts += 1
        if self.failing:
            raise UplinkError("broker unreachable")
        self.dead_letters.append(dl)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


async def wait_until(predicate: Callable[[], bool], within_s: float, what: str) -> None:
    step = 0.02
    for _ in range(int(within_s / step)):
        if predicate():
            return
        await asyncio.sleep(step)
    assert predicate(), f"not within {within_s}s: {what}"


def make_settings(broker: MosquittoProcess) -> EdgeSettings:
    return EdgeSettings(mqtt_host=broker.host, mqtt_port=broker.port, gateway_id=GW)


async def started(broker: MosquittoProcess, uplink: RecordingUplink) -> LocalMqttDevices:
    devices = LocalMqttDevices(
        make_settings(broker), uplink, retry_initial_s=0.05, retry_max_s=0.2, stop_timeout_s=2.0
    )
    await devices.start()
    async with asyncio.timeout(10):
        await devices.wait_connected()
    return devices


@pytest.fixture
def publisher(mosquitto: MosquittoProcess) -> Iterator[MqttRecorder]:
    rec = MqttRecorder("test-publisher")
    rec.connect(mosquitto.host, mosquitto.port)
    try:
        yield rec
    finally:
        rec.close()


@pytest_asyncio.fixture
async def rig(
    mosquitto: MosquittoProcess,
) -> AsyncIterator[tuple[LocalMqttDevices, RecordingUplink]]:
    uplink = RecordingUplink()
    devices = await started(mosquitto, uplink)
    try:
        yield devices, uplink
    finally:
        await devices.stop()


async def publish(publisher: MqttRecorder, *messages: tuple[str, bytes]) -> None:
    for topic, payload in messages:
        await asyncio.to_thread(publisher.publish_many, topic, [payload])


# -- topics (pure) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("zigbee2mqtt/front_door", Route("z2m_state", "front_door")),
        ("zigbee2mqtt/Building 3/Front Door", Route("z2m_state", "Building 3/Front Door")),
        ("zigbee2mqtt/front_door/availability", Route("z2m_availability", "front_door")),
        ("zigbee2mqtt/b3/door/availability", Route("z2m_availability", "b3/door")),
        ("zigbee2mqtt/front_door/set", None),
        ("zigbee2mqtt/front_door/get", None),
        ("zigbee2mqtt/front_door/set/state", None),
        ("zigbee2mqtt/bridge/state", None),
        ("zigbee2mqtt/bridge/devices", None),
        ("zigbee2mqtt/", None),
        ("zigbee2mqtt/availability", None),
        ("tuya/bf01/state", Route("tuya_state", "bf01")),
        ("tuya/bf01/other", None),
        ("tuya//state", None),
        ("tuya/a/b/state", None),
        ("elsewhere/front_door", None),
    ],
)
def test_route_topic(topic: str, expected: Route | None) -> None:
    assert route_topic(topic, "zigbee2mqtt", "tuya") == expected


# -- against the broker --------------------------------------------------------------


async def test_z2m_state_and_action_become_events(
    rig: tuple[LocalMqttDevices, RecordingUplink], publisher: MqttRecorder
) -> None:
    devices, uplink = rig
    lock = SimulatedZ2mLock("Building 3/Front Door")
    await publish(publisher, lock.unlock("keypad", 3), lock.lock("auto_lock"))
    await wait_until(lambda: len(uplink.events) == 4, 5, "4 events")
    assert uplink.kinds() == ["lock.state", "lock.unlocked", "lock.state", "lock.locked"]
    assert {e.device_id for e in uplink.events} == {"z2m:Building_3_Front_Door"}
    unlocked = uplink.events[1]
    assert unlocked.values["method"] == "keypad" and unlocked.values["user"] == 3
    assert unlocked.gateway_id == GW and unlocked.values["battery_pct"] == 87
    assert uplink.events[3].values["method"] == "auto"
    await wait_until(lambda: devices.stats.acked == 2, 5, "both messages acknowledged")


async def test_availability(
    rig: tuple[LocalMqttDevices, RecordingUplink], publisher: MqttRecorder
) -> None:
    devices, uplink = rig
    lock = SimulatedZ2mLock("front_door")
    await publish(publisher, lock.availability(True))
    await wait_until(lambda: uplink.events != [], 5, "login event")
    assert uplink.kinds() == ["device.login"]
    assert devices.availability == {"z2m:front_door": True}
    await publish(publisher, lock.availability(False))
    await wait_until(lambda: devices.stats.acked == 2, 5, "offline acknowledged")
    assert devices.availability == {"z2m:front_door": False}
    assert uplink.kinds() == ["device.login"]  # no offline kind: no event


async def test_tuya_hijack_opens_and_raises_duress(
    rig: tuple[LocalMqttDevices, RecordingUplink], publisher: MqttRecorder
) -> None:
    _, uplink = rig
    lock = SimulatedTuyaLock("bf0123456789abcdef")
    await publish(publisher, lock.hijack(), lock.alarm(256))
    await wait_until(lambda: len(uplink.events) == 3, 5, "3 events")
    assert sorted(uplink.kinds()) == ["lock.duress", "lock.tamper", "lock.unlocked"]
    unlocked = next(e for e in uplink.events if e.kind == "lock.unlocked")
    assert unlocked.values["method"] == "unspecified"
    assert {e.device_id for e in uplink.events} == {"tuya:bf0123456789abcdef"}


async def test_garbage_is_dead_lettered_and_acknowledged(
    rig: tuple[LocalMqttDevices, RecordingUplink], publisher: MqttRecorder
) -> None:
    devices, uplink = rig
    await publish(
        publisher,
        ("zigbee2mqtt/front_door", b"\xff not json"),
        ("tuya/bf01/state", b'{"dps": {"1": "three"}}'),
    )
    await wait_until(lambda: len(uplink.dead_letters) == 2, 5, "2 dead letters")
    z2m, tuya = uplink.dead_letters
    assert z2m.raw == b"\xff not json" and z2m.source == "mqtt zigbee2mqtt/front_door"
    assert z2m.protocol == "zigbee2mqtt" and z2m.device_id == "z2m:front_door"
    assert tuya.protocol == "tuya" and tuya.device_id == "tuya:bf01"
    assert "DP 1 must be an integer" in tuya.reason
    await wait_until(lambda: devices.stats.acked == 2, 5, "dead letters acknowledged")
    assert uplink.events == []


async def test_commands_and_bridge_topics_are_ignored(
    rig: tuple[LocalMqttDevices, RecordingUplink], publisher: MqttRecorder
) -> None:
    devices, uplink = rig
    await publish(
        publisher,
        ("zigbee2mqtt/front_door/set", b'{"state":"LOCK"}'),
        ("zigbee2mqtt/bridge/state", b'{"state":"online"}'),
        SimulatedZ2mLock("front_door").state(),
    )
    await wait_until(lambda: devices.stats.acked == 3, 5, "3 messages handled")
    assert devices.stats.ignored == 2
    assert uplink.kinds() == ["lock.state"] and uplink.dead_letters == []


async def test_retained_reports_replay_only_state(
    mosquitto: MosquittoProcess, publisher: MqttRecorder
) -> None:
    lock = SimulatedZ2mLock("front_door")
    topic, payload = lock.unlock("rfid", 9)
    info = publisher.client.publish(topic, payload, qos=1, retain=True)
    await asyncio.to_thread(info.wait_for_publish, 5)
    uplink = RecordingUplink()
    devices = await started(mosquitto, uplink)
    try:
        await wait_until(lambda: devices.stats.acked == 1, 5, "retained message handled")
        assert uplink.kinds() == ["lock.state"]  # the old unlock is not raised again
        assert devices.stats.retained_events_dropped == 1
    finally:
        await devices.stop()


async def test_a_message_whose_events_were_not_published_is_redelivered(
    mosquitto: MosquittoProcess, publisher: MqttRecorder
) -> None:
    down = RecordingUplink(failing=True)
    first = await started(mosquitto, down)
    lock = SimulatedTuyaLock("bf0123456789abcdef")
    try:
        await publish(publisher, lock.hijack(user=2))
        await wait_until(lambda: first.stats.retries >= 2, 5, "publish retried")
        assert first.stats.acked == 0 and down.events == []
    finally:
        await first.stop()

    # The edge restarts with a working uplink: the broker hands the message over again.
    up = RecordingUplink()
    second = await started(mosquitto, up)
    try:
        await wait_until(lambda: len(up.events) == 2, 10, "redelivered message's events")
        assert sorted(up.kinds()) == ["lock.duress", "lock.unlocked"]
        assert all(e.values.get("user") == 2 for e in up.events)
        await wait_until(lambda: second.stats.acked == 1, 5, "acknowledged this time")
    finally:
        await second.stop()

    # Acknowledged means gone: a third start gets nothing.
    again = RecordingUplink()
    third = await started(mosquitto, again)
    try:
        await asyncio.sleep(0.5)
        assert again.events == [] and third.stats.received == 0
    finally:
        await third.stop()
