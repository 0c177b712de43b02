"""The demo's embedded amqtt broker carries QoS 1 traffic and refuses a taken port."""

from __future__ import annotations

import asyncio
import socket

import pytest

from community_hub_tools.broker import embedded
from community_hub_tools.broker.embedded import EmbeddedBroker
from hub.netutil import PortInUseError, check_port_free
from tests.support.brokers import MqttRecorder, free_port


async def test_paho_clients_exchange_qos1_messages(embedded_broker: EmbeddedBroker) -> None:
    host, port = embedded_broker.host, embedded_broker.port
    subscriber = MqttRecorder("test-sub")
    publisher = MqttRecorder("test-pub")
    try:
        await asyncio.to_thread(subscriber.connect, host, port)
        granted = await asyncio.to_thread(subscriber.subscribe, "chub/v1/edge/+/events/#", 1)
        assert granted == [1]
        await asyncio.to_thread(publisher.connect, host, port)

        payloads = [f'{{"seq": {i}}}'.encode() for i in range(50)]
        await asyncio.to_thread(
            publisher.publish_many, "chub/v1/edge/edge-1/events/alarm/w-1", payloads, 1
        )
        arrived = await asyncio.to_thread(subscriber.wait_for_count, len(payloads), 10.0)

        assert arrived == len(payloads)
        assert subscriber.payloads() == payloads  # all of them, in order
        assert {m.qos for m in subscriber.messages} == {1}
        assert {m.topic for m in subscriber.messages} == {"chub/v1/edge/edge-1/events/alarm/w-1"}
    finally:
        await asyncio.to_thread(publisher.close)
        await asyncio.to_thread(subscriber.close)


async def test_second_broker_on_the_same_port_raises_port_in_use(
    embedded_broker: EmbeddedBroker,
) -> None:
    second = EmbeddedBroker(host=embedded_broker.host, port=embedded_broker.port)
    with pytest.raises(PortInUseError) as caught:
        await second.start()

    message = str(caught.value)
    assert f"port {embedded_broker.port}" in message
    assert "embedded MQTT broker" in message
    assert "HUB_MQTT_PORT" in message
    assert caught.value.port == embedded_broker.port
    assert not second.running
    # The first broker is unharmed: a client still gets in.
    client = MqttRecorder("still-there")
    await asyncio.to_thread(client.connect, embedded_broker.host, embedded_broker.port)
    await asyncio.to_thread(client.close)


async def test_port_taken_by_any_listener_raises_port_in_use() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(PortInUseError, match=rf"port {port}\b"):
            await EmbeddedBroker(port=port).start()


async def test_bind_race_is_reported_as_port_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """The port is free at the check but taken when amqtt binds."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        monkeypatch.setattr(embedded, "check_port_free", lambda *args, **kwargs: None)
        broker = EmbeddedBroker(port=port)
        with pytest.raises(PortInUseError, match=rf"port {port}\b"):
            await broker.start()
        assert not broker.running


async def test_stop_releases_the_port() -> None:
    port = free_port()
    broker = EmbeddedBroker(port=port)
    await broker.start()
    with pytest.raises(PortInUseError):
        check_port_free("127.0.0.1", port, "probe")
    await broker.stop()
    await broker.stop()  # idempotent

    check_port_free("127.0.0.1", port, "probe")  # free again
    async with EmbeddedBroker(port=port) as again:
        assert again.running
    assert not again.running
