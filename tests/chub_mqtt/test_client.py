"""chub_mqtt.Client against real brokers: Mosquitto (MQTT 5) and amqtt (3.1.1 only)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Callable

from chub_mqtt import Client, Message, MqttConnection
from community_hub_tools.broker.embedded import EmbeddedBroker
from tests.support.bridges import publish
from tests.support.brokers import MosquittoProcess


def _connection(host: str, port: int) -> MqttConnection:
    return MqttConnection(host=host, port=port, client_id=f"test-{uuid.uuid4().hex[:8]}")


async def _until(condition: Callable[[], bool], within_s: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not within {within_s}s: {what}")
        await asyncio.sleep(0.05)


async def _take(client: Client, count: int, within_s: float = 10.0) -> list[Message]:
    taken: list[Message] = []
    async with asyncio.timeout(within_s):
        while len(taken) < count:
            await client.wait_message()
            taken += client.take(count - len(taken))
    return taken


async def test_unacknowledged_messages_come_again_after_a_reconnect(
    mosquitto: MosquittoProcess,
) -> None:
    client = Client(
        _connection(mosquitto.host, mosquitto.port),
        persistent=True,
        manual_ack=True,
        subscriptions=[("t/acks/#", 1)],
    )
    async with client:
        async with asyncio.timeout(10):
            await client.wait_connected()
        await asyncio.to_thread(
            publish,
            mosquitto.host,
            mosquitto.port,
            [(f"t/acks/{n}", b"%d" % n, False) for n in range(3)],
        )
        first = await _take(client, 3)
        assert [m.payload for m in first] == [b"0", b"1", b"2"]
        assert {m.connection for m in first} == {1}
        assert client.ack(first[0])
        await asyncio.sleep(0.5)  # the PUBACK leaves on paho's thread

        # Cut the TCP connection under paho: it reconnects, the session is resumed, and
        # the broker sends again what was not acknowledged.
        sock = client.socket()
        assert sock is not None
        sock.shutdown(socket.SHUT_RDWR)
        again = await _take(client, 2, within_s=20)
        assert [m.payload for m in again] == [b"1", b"2"]
        assert all(m.dup and m.connection == 2 for m in again)
        # An ack for the first connection's copy is not sent: the id means nothing now.
        assert not client.ack(first[1])
        assert client.stale_acks_skipped == 1
        assert all(client.ack(m) for m in again)

    # Acknowledged: a new connection of the same session gets nothing more.
    later = Client(
        client.connection, persistent=True, manual_ack=True, subscriptions=[("t/acks/#", 1)]
    )
    async with later:
        async with asyncio.timeout(10):
            await later.wait_connected()
        await asyncio.sleep(0.5)
        assert later.pending() == 0


async def test_paused_reading_holds_the_network_thread_until_resumed(
    mosquitto: MosquittoProcess,
) -> None:
    client = Client(_connection(mosquitto.host, mosquitto.port), subscriptions=[("t/pause/#", 1)])
    async with client:
        async with asyncio.timeout(10):
            await client.wait_connected()
        client.pause_reading()
        await asyncio.to_thread(
            publish,
            mosquitto.host,
            mosquitto.port,
            [(f"t/pause/{n}", b"x", False) for n in range(5)],
        )
        await _until(lambda: client.pending() == 1, 5, "the message in hand")
        await asyncio.sleep(0.5)
        assert client.pending() == 1, "kept reading while paused"
        assert client.reading_paused == 1
        client.resume_reading()
        await _until(lambda: client.pending() == 5, 5, "the rest, once resumed")


async def test_a_full_inbox_stops_reading_until_messages_are_taken(
    mosquitto: MosquittoProcess,
) -> None:
    client = Client(
        _connection(mosquitto.host, mosquitto.port),
        subscriptions=[("t/full/#", 1)],
        inbox_limit=3,
    )
    async with client:
        async with asyncio.timeout(10):
            await client.wait_connected()
        await asyncio.to_thread(
            publish,
            mosquitto.host,
            mosquitto.port,
            [(f"t/full/{n}", b"x", False) for n in range(10)],
        )
        await _until(lambda: client.pending() == 3, 5, "a full inbox")
        await asyncio.sleep(0.3)
        assert client.pending() == 3
        taken = await _take(client, 10)
        assert [m.topic for m in taken] == [f"t/full/{n}" for n in range(10)]  # order kept


async def test_publish_waits_for_the_puback_and_reads_its_reason(
    mosquitto: MosquittoProcess,
) -> None:
    conn = _connection(mosquitto.host, mosquitto.port)
    async with Client(conn, subscriptions=[("t/kept", 1)]) as client:
        async with asyncio.timeout(10):
            await client.wait_connected()
            nobody = await client.publish("t/nobody", b"x")
            assert nobody.no_matching_subscribers and not nobody.is_failure
            kept = await client.publish("t/kept", b"x")
            assert kept.reason_code == 0 and not kept.no_matching_subscribers
        assert client.in_flight() == 0


async def test_a_broker_without_mqtt5_gets_mqtt311_once(embedded_broker: EmbeddedBroker) -> None:
    # amqtt (the demo's broker) refuses MQTT 5, or drops a CONNECT with a will.
    conn = _connection(embedded_broker.host, embedded_broker.port)
    reader = Client(conn, persistent=True, manual_ack=True, subscriptions=[("t/old/#", 1)])
    async with reader:
        async with asyncio.timeout(15):
            await reader.wait_connected()
        assert reader.protocol == "3.1.1"
        async with Client(_connection(embedded_broker.host, embedded_broker.port)) as writer:
            async with asyncio.timeout(15):
                await writer.wait_connected()
                ack = await writer.publish("t/old/1", b"hello")
            assert writer.protocol == "3.1.1"
            assert ack.reason_code == 0
        [message] = await _take(reader, 1)
        assert message.payload == b"hello" and reader.ack(message)
