"""MqttUplink against a real Mosquitto: PUBACK-awaited publishes, status, outages."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import paho.mqtt.client as mqtt
import pytest
import pytest_asyncio

from chub_mqtt.topics import dead_letter_topic, event_topic, gateway_status_topic
from community_hub_tools.broker.embedded import EmbeddedBroker
from device_adapters.kinds import kind_info
from device_adapters.model import DeadLetter, DeviceEvent, DeviceFamily
from edge.settings import EdgeSettings
from edge.uplink import MqttUplink, UplinkError, UplinkNotDelivered, UplinkTimeout
from tests.support.brokers import MosquittoProcess, MqttRecorder, free_port, start_mosquitto

GW = "gw-uplink-test"


def make_event(kind: str = "wristband.sos", device_id: str = "watch:8809008845") -> DeviceEvent:
    info = kind_info(kind)
    return DeviceEvent(
        event_id=uuid4(),
        device_id=device_id,
        family=DeviceFamily.WRISTBAND,
        protocol="watch",
        kind=kind,
        severity=info.severity,
        lane=info.lane,
        received_at=datetime.now(UTC),
        gateway_id=GW,
        values={"battery_pct": 81},
        raw=b"[3G*8809008845*0002*AL]",
    )


def make_settings(broker: MosquittoProcess, **overrides: object) -> EdgeSettings:
    values: dict[str, object] = {
        "mqtt_host": broker.host,
        "mqtt_port": broker.port,
        "gateway_id": GW,
        "edge_publish_timeout_s": 5.0,
    }
    values.update(overrides)
    return EdgeSettings(**values)  # type: ignore[arg-type]


async def wait_until(predicate: Callable[[], bool], within_s: float, what: str) -> None:
    """Poll ``predicate`` (state changed by paho's threads, so no event to await)."""
    step = 0.02
    for _ in range(int(within_s / step)):
        if predicate():
            return
        await asyncio.sleep(step)
    assert predicate(), f"not within {within_s}s: {what}"


def messages_on(rec: MqttRecorder, topic: str) -> list[mqtt.MQTTMessage]:
    return [m for m in list(rec.messages) if m.topic == topic]


def leave_hub_session(broker: MosquittoProcess) -> None:
    """What the hub leaves on a broker it has connected to once: a persistent
    session subscribed to the edge topics, which the broker queues for (and keeps
    across its restarts) while nobody is connected to it."""
    rec = MqttRecorder(f"test-hub-{uuid4().hex[:8]}", clean_session=False)
    rec.connect(broker.host, broker.port)
    try:
        rec.subscribe(f"chub/v1/edge/{GW}/#", qos=1)
    finally:
        rec.close()


@pytest.fixture
def recorder(mosquitto: MosquittoProcess) -> Iterator[MqttRecorder]:
    rec = MqttRecorder(f"test-rec-{uuid4().hex[:8]}")
    rec.connect(mosquitto.host, mosquitto.port)
    rec.subscribe(f"chub/v1/edge/{GW}/#", qos=1)
    try:
        yield rec
    finally:
        rec.close()


@pytest_asyncio.fixture
async def uplink(mosquitto: MosquittoProcess) -> AsyncIterator[MqttUplink]:
    up = MqttUplink(make_settings(mosquitto))
    await up.start()
    async with asyncio.timeout(10):
        await up.wait_connected()
    try:
        yield up
    finally:
        await up.stop()


async def test_publish_event_arrives_on_lane_topic(
    uplink: MqttUplink, recorder: MqttRecorder
) -> None:
    sos = make_event("wristband.sos")
    beat = make_event("wristband.heartbeat")
    await uplink.publish_event(sos)
    await uplink.publish_event(beat)

    alarm_topic = event_topic(GW, sos.lane, sos.device_id)
    assert alarm_topic == f"chub/v1/edge/{GW}/events/alarm/watch:8809008845"
    tele_topic = event_topic(GW, beat.lane, beat.device_id)
    await wait_until(
        lambda: bool(messages_on(recorder, alarm_topic) and messages_on(recorder, tele_topic)),
        5,
        "both events delivered",
    )
    got = DeviceEvent.model_validate_json(messages_on(recorder, alarm_topic)[0].payload)
    assert got == sos
    assert messages_on(recorder, alarm_topic)[0].qos == 1
    assert DeviceEvent.model_validate_json(messages_on(recorder, tele_topic)[0].payload) == beat


async def test_publish_dead_letter(uplink: MqttUplink, recorder: MqttRecorder) -> None:
    dl = DeadLetter(
        dead_letter_id=uuid4(),
        gateway_id=GW,
        source="watch-tcp 127.0.0.1:1",
        protocol="watch",
        received_at=datetime.now(UTC),
        reason="garbage",
        raw=b"\x00\xffnot a frame",
    )
    await uplink.publish_dead_letter(dl)
    topic = dead_letter_topic(GW)
    await wait_until(lambda: bool(messages_on(recorder, topic)), 5, "dead letter delivered")
    assert DeadLetter.model_validate_json(messages_on(recorder, topic)[0].payload) == dl


async def test_many_concurrent_publishes_with_a_small_in_flight_bound(
    mosquitto: MosquittoProcess, recorder: MqttRecorder
) -> None:
    # More publishes than slots: the semaphore makes the rest wait instead of
    # overflowing paho's queue (MQTT_ERR_QUEUE_SIZE).
    up = MqttUplink(make_settings(mosquitto, edge_max_in_flight=4))
    await up.start()
    try:
        async with asyncio.timeout(10):
            await up.wait_connected()
        events = [make_event("wristband.heartbeat", f"watch:{4700000000 + i}") for i in range(300)]
        await asyncio.gather(*(up.publish_event(e) for e in events))
    finally:
        await up.stop()
    prefix = f"chub/v1/edge/{GW}/events/telemetry/"
    await wait_until(
        lambda: sum(m.topic.startswith(prefix) for m in list(recorder.messages)) >= 300,
        10,
        "all 300 delivered",
    )
    ids = {
        DeviceEvent.model_validate_json(m.payload).event_id
        for m in list(recorder.messages)
        if m.topic.startswith(prefix)
    }
    assert ids == {e.event_id for e in events}


async def test_status_online_while_running_offline_after_stop(
    mosquitto: MosquittoProcess,
) -> None:
    status = gateway_status_topic(GW)
    up = MqttUplink(make_settings(mosquitto))
    await up.start()
    async with asyncio.timeout(10):
        await up.wait_connected()
    assert up.connected
    await asyncio.to_thread(_wait_retained, mosquitto, status, b"online")
    await up.stop()
    assert not up.connected
    # A subscriber arriving later sees the retained status.
    await asyncio.to_thread(_wait_retained, mosquitto, status, b"offline")


async def test_last_will_then_online_again_after_reconnect(
    uplink: MqttUplink, recorder: MqttRecorder
) -> None:
    status = gateway_status_topic(GW)
    await wait_until(lambda: bool(messages_on(recorder, status)), 5, "status seen")
    # Drop the TCP connection under paho without an MQTT DISCONNECT: the broker
    # publishes the will, and paho reconnects and says "online" again.
    client = uplink._client
    assert client is not None
    sock = client.socket()
    assert isinstance(sock, socket.socket)
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    sock.shutdown(socket.SHUT_RDWR)

    def payloads() -> list[bytes]:
        return [bytes(m.payload) for m in messages_on(recorder, status)]

    await wait_until(lambda: b"offline" in payloads(), 10, "last will published")
    await wait_until(
        lambda: payloads()[-1] == b"online" and payloads().count(b"online") >= 2,
        15,
        "online again after reconnect",
    )
    assert uplink.connected
    await uplink.publish_event(make_event())


async def test_start_before_broker_and_publish_waits_for_it(tmp_path: Path) -> None:
    broker = start_mosquitto(tmp_path / "late", free_port())
    leave_hub_session(broker)
    broker.stop()  # configured but down: the uplink starts first
    up = MqttUplink(make_settings(broker, edge_publish_timeout_s=30.0))
    try:
        await up.start()  # must not fail with the broker down
        assert not up.connected
        pending = asyncio.create_task(up.publish_event(make_event()))
        await asyncio.sleep(1.0)
        assert not pending.done(), "no PUBACK can have arrived yet"
        await asyncio.to_thread(broker.start)
        async with asyncio.timeout(25):
            await pending
        assert up.connected
    finally:
        await up.stop()
        broker.stop()


async def test_publish_times_out_while_broker_is_down(mosquitto: MosquittoProcess) -> None:
    leave_hub_session(mosquitto)  # saved with the broker's state when it stops
    up = MqttUplink(make_settings(mosquitto, edge_publish_timeout_s=0.5))
    await up.start()
    try:
        async with asyncio.timeout(10):
            await up.wait_connected()
        await asyncio.to_thread(mosquitto.stop)
        await wait_until(lambda: not up.connected, 10, "uplink noticed the outage")
        with pytest.raises(UplinkTimeout):
            await up.publish_event(make_event())
        # The timed-out message is still held by paho and is delivered later;
        # the uplink keeps working once the broker is back.
        await asyncio.to_thread(mosquitto.start)
        async with asyncio.timeout(25):
            await up.wait_connected()
            while True:
                try:
                    await up.publish_event(make_event())
                    break
                except UplinkTimeout:
                    continue
        # The timed-out message kept its slot until paho delivered it after all.
        await wait_until(
            lambda: up._slots._value == up._settings.edge_max_in_flight, 10, "slots released"
        )
        assert up._client is not None and up._client.in_flight() == 0
    finally:
        await up.stop()


async def test_puback_arriving_before_the_future_is_registered(
    uplink: MqttUplink, recorder: MqttRecorder
) -> None:
    # Force the race: make publish() return only after paho handled the PUBACK,
    # so on_publish runs before _publish can register its future.
    assert uplink._client is not None
    client = uplink._client._paho
    assert client is not None
    real_publish = client.publish

    def publish_then_wait_for_ack(*args: Any, **kwargs: Any) -> mqtt.MQTTMessageInfo:
        info = real_publish(*args, **kwargs)
        info.wait_for_publish(5)
        assert info.is_published()
        return info

    client.publish = publish_then_wait_for_ack  # type: ignore[method-assign]
    try:
        async with asyncio.timeout(2):
            await uplink.publish_event(make_event())
    finally:
        client.publish = real_publish  # type: ignore[method-assign]
    assert not uplink._client._acked_early and not uplink._client._waiters
    assert uplink._slots._value == uplink._settings.edge_max_in_flight
    await uplink.publish_event(make_event())


async def test_publish_nobody_subscribed_to_is_not_delivered(
    mosquitto: MosquittoProcess,
) -> None:
    # A broker the hub has never connected to acknowledges a QoS 1 publish that
    # no subscription matches, and drops it. MQTT 5 says so in the PUBACK
    # ("No matching subscribers"): not delivered, so the caller must keep it.
    up = MqttUplink(make_settings(mosquitto))
    await up.start()
    try:
        async with asyncio.timeout(10):
            await up.wait_connected()
        with pytest.raises(UplinkNotDelivered, match="No matching subscribers"):
            await up.publish_event(make_event())
        assert up._slots._value == up._settings.edge_max_in_flight
        assert up._client is not None
        assert not up._client._waiters and not up._client._acked_early

        # Once the hub's session exists it queues for the hub, connected or not.
        await asyncio.to_thread(leave_hub_session, mosquitto)
        await up.publish_event(make_event())
    finally:
        await up.stop()  # the retained "offline" needs no subscriber
    await asyncio.to_thread(_wait_retained, mosquitto, gateway_status_topic(GW), b"offline")


async def test_a_broker_without_mqtt5_gets_mqtt311(embedded_broker: EmbeddedBroker) -> None:
    # amqtt (the demo's broker) refuses MQTT 5: the uplink connects with 3.1.1.
    rec = MqttRecorder(f"test-rec-{uuid4().hex[:8]}")
    await asyncio.to_thread(rec.connect, embedded_broker.host, embedded_broker.port)
    try:
        await asyncio.to_thread(rec.subscribe, f"chub/v1/edge/{GW}/#", 1)
        settings = EdgeSettings(
            mqtt_host=embedded_broker.host,
            mqtt_port=embedded_broker.port,
            gateway_id=GW,
            edge_publish_timeout_s=10.0,
        )
        up = MqttUplink(settings)
        await up.start()
        try:
            # Handed to paho before the refusal: sent again over the new connection.
            early = asyncio.create_task(up.publish_event(make_event()))
            async with asyncio.timeout(10):
                await up.wait_connected()
            assert up._client is not None
            assert up._client.protocol == "3.1.1"
            with contextlib.suppress(UplinkError):
                await early
            sos = make_event()
            await up.publish_event(sos)
            topic = event_topic(GW, sos.lane, sos.device_id)

            def arrived() -> bool:
                return any(
                    DeviceEvent.model_validate_json(m.payload) == sos
                    for m in messages_on(rec, topic)
                )

            await wait_until(arrived, 5, "event delivered over MQTT 3.1.1")
            assert up._slots._value == settings.edge_max_in_flight
        finally:
            await up.stop()
    finally:
        await asyncio.to_thread(rec.close)


async def test_publish_before_start_raises(mosquitto: MosquittoProcess) -> None:
    up = MqttUplink(make_settings(mosquitto))
    with pytest.raises(UplinkError):
        await up.publish_event(make_event())


def _wait_retained(broker: MosquittoProcess, topic: str, expected: bytes) -> None:
    """Subscribe afresh until the retained message on ``topic`` is ``expected``."""
    deadline = time.monotonic() + 10
    last: bytes | None = None
    while time.monotonic() < deadline:
        rec = MqttRecorder(f"test-retained-{uuid4().hex[:8]}")
        rec.connect(broker.host, broker.port)
        try:
            rec.subscribe(topic, qos=1)
            if rec.wait_for_count(1, 1.0):
                last = bytes(rec.messages[0].payload)
                assert rec.messages[0].retain
                if last == expected:
                    return
        finally:
            rec.close()
        time.sleep(0.1)
    raise AssertionError(f"retained {topic} is {last!r}, expected {expected!r}")
