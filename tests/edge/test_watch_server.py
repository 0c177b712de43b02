"""WatchServer over real TCP, publishing through MqttUplink to a real Mosquitto."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from uuid import uuid4

import paho.mqtt.client as mqtt
import pytest
import pytest_asyncio

from chub_mqtt.topics import dead_letter_topic, event_topic, gateway_status_topic
from community_hub_tools.sim.watch import SimulatedWatch, run_simulator, send_once
from device_adapters.model import DeadLetter, DeviceEvent, Lane
from device_adapters.watch import (
    Rejected,
    WatchFrame,
    WatchStream,
    decode_frame,
    encode_frame,
    to_events,
)
from edge.gateway import EdgeGateway, run_edge
from edge.settings import EdgeSettings
from edge.uplink import MqttUplink, UplinkTimeout
from edge.watch_server import WatchServer
from tests.support.brokers import MosquittoProcess, MqttRecorder, free_port

GW = "gw-watch-test"
WATCH_ID = "8809008845"

# PROTOCOLS.md 1a, real frames.
REAL_SOS = (
    b"[3G*8809008845*00C0*AL,271219,094744,V,00.000000,N, 0.0000000,E,0.00,0.0,0.0,0,100,81,"
    b"0,0,00010000,7,0,460,0,9336,3981,141,9336,3912,141,9336,3982,140,9765,4233,134,9765,"
    b"4071,134,9765,4321,134,9336,4353,132,0,0.0]"
)
REAL_LK = b"[3G*4700186508*000B*LK,0,10,100]"


def make_settings(broker: MosquittoProcess, **overrides: object) -> EdgeSettings:
    values: dict[str, object] = {
        "mqtt_host": broker.host,
        "mqtt_port": broker.port,
        "gateway_id": GW,
        "edge_host": "127.0.0.1",
        "edge_publish_timeout_s": 5.0,
        # Gateway tests here are about the watch server; the others have their own tests.
        "edge_servers": ["watch"],
        "data_dir": tempfile.mkdtemp(prefix="chub-edge-test-"),
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


def on_topic(rec: MqttRecorder, topic: str) -> list[mqtt.MQTTMessage]:
    return [m for m in list(rec.messages) if m.topic == topic]


def events_of(rec: MqttRecorder) -> list[tuple[str, DeviceEvent]]:
    prefix = f"chub/v1/edge/{GW}/events/"
    return [
        (m.topic, DeviceEvent.model_validate_json(m.payload))
        for m in list(rec.messages)
        if m.topic.startswith(prefix)
    ]


def dead_letters_of(rec: MqttRecorder) -> list[DeadLetter]:
    return [DeadLetter.model_validate_json(m.payload) for m in on_topic(rec, dead_letter_topic(GW))]


class WatchConn:
    """A raw TCP connection speaking as a watch; replies are parsed with the codec."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.stream = WatchStream()
        self.frames: list[WatchFrame] = []

    @classmethod
    async def open(cls, port: int) -> WatchConn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def __aenter__(self) -> WatchConn:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def reply(self, within_s: float = 5.0) -> WatchFrame:
        async with asyncio.timeout(within_s):
            while not self.frames:
                data = await self.reader.read(4096)
                if not data:
                    raise ConnectionError("server closed the connection")
                for item in self.stream.feed(data):
                    assert not isinstance(item, Rejected), item
                    self.frames.append(item)
        return self.frames.pop(0)

    async def no_reply(self, within_s: float) -> None:
        with pytest.raises(TimeoutError):
            await self.reply(within_s)


@pytest.fixture
def recorder(mosquitto: MosquittoProcess) -> Iterator[MqttRecorder]:
    rec = MqttRecorder(f"test-rec-{uuid4().hex[:8]}")
    rec.connect(mosquitto.host, mosquitto.port)
    rec.subscribe(f"chub/v1/edge/{GW}/#", qos=1)
    try:
        yield rec
    finally:
        rec.close()


@dataclass
class Edge:
    uplink: MqttUplink
    server: WatchServer


async def start_edge(settings: EdgeSettings) -> Edge:
    uplink = MqttUplink(settings)
    await uplink.start()
    async with asyncio.timeout(10):
        await uplink.wait_connected()
    server = WatchServer(settings, uplink, host="127.0.0.1", port=0)
    await server.start()
    assert server.port != 0
    return Edge(uplink, server)


async def stop_edge(edge: Edge) -> None:
    await edge.server.stop()
    await edge.uplink.stop()


@pytest_asyncio.fixture
async def edge(mosquitto: MosquittoProcess) -> AsyncIterator[Edge]:
    e = await start_edge(make_settings(mosquitto))
    try:
        yield e
    finally:
        await stop_edge(e)


# -- frames to events and replies ------------------------------------------------------


async def test_sos_alarm_replied_and_published_on_alarm_lane(
    edge: Edge, recorder: MqttRecorder
) -> None:
    reply = await send_once("127.0.0.1", edge.server.port, REAL_SOS, expect_reply=True)
    assert reply == encode_frame("3G", WATCH_ID, "AL")

    topic = f"chub/v1/edge/{GW}/events/alarm/watch:{WATCH_ID}"
    assert topic == event_topic(GW, Lane.ALARM, f"watch:{WATCH_ID}")
    await wait_until(lambda: bool(on_topic(recorder, topic)), 5, "sos event on the broker")
    sos = DeviceEvent.model_validate_json(on_topic(recorder, topic)[0].payload)
    assert sos.kind == "wristband.sos"
    assert sos.lane is Lane.ALARM
    assert sos.device_id == f"watch:{WATCH_ID}"
    assert sos.gateway_id == GW
    assert sos.raw == REAL_SOS
    assert on_topic(recorder, topic)[0].qos == 1
    assert edge.server.stats.replies == 1
    assert edge.server.stats.events >= 1


async def test_heartbeat_replied_and_published_on_telemetry_lane(
    edge: Edge, recorder: MqttRecorder
) -> None:
    reply = await send_once("127.0.0.1", edge.server.port, REAL_LK, expect_reply=True)
    assert reply == b"[3G*4700186508*0002*LK]"
    topic = event_topic(GW, Lane.TELEMETRY, "watch:4700186508")
    await wait_until(lambda: bool(on_topic(recorder, topic)), 5, "heartbeat on the broker")
    beat = DeviceEvent.model_validate_json(on_topic(recorder, topic)[0].payload)
    assert beat.kind == "wristband.heartbeat"
    assert beat.values["battery_pct"] == 100


async def test_garbage_and_bad_fields_become_dead_letters_and_connection_survives(
    edge: Edge, recorder: MqttRecorder
) -> None:
    garbage = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    bad_lk = encode_frame("3G", WATCH_ID, "LK,lots,of,steps")
    bad_al = encode_frame("3G", WATCH_ID, REAL_SOS[20:-1].replace(b"00010000", b"SOS!SOS!"))
    async with await WatchConn.open(edge.server.port) as watch:
        await watch.send(garbage)
        # Framing is valid, content is not: dead letter, and still the protocol reply.
        await watch.send(bad_lk)
        assert (await watch.reply()).content_type == "LK"
        await watch.send(bad_al)
        assert (await watch.reply()).content_type == "AL"
        # The connection still works.
        await watch.send(encode_frame("3G", WATCH_ID, "LK,0,10,100"))
        assert (await watch.reply()).device_id == WATCH_ID

    await wait_until(lambda: len(dead_letters_of(recorder)) >= 3, 5, "three dead letters")
    dls = dead_letters_of(recorder)
    assert [dl.raw for dl in dls] == [garbage, bad_lk, bad_al]
    assert dls[0].device_id is None  # nothing identified the connection yet
    assert dls[1].device_id == f"watch:{WATCH_ID}"
    assert all(dl.protocol == "watch" and dl.gateway_id == GW for dl in dls)
    assert all(dl.source.startswith("watch-tcp 127.0.0.1:") for dl in dls)
    assert "status" in dls[2].reason
    assert edge.server.stats.dead_letters == 3


async def test_two_frames_in_one_write_and_one_frame_split_over_writes(
    edge: Edge, recorder: MqttRecorder
) -> None:
    async with await WatchConn.open(edge.server.port) as watch:
        await watch.send(encode_frame("3G", WATCH_ID, "LK,0,10,100") + REAL_SOS)
        first, second = await watch.reply(), await watch.reply()
        assert (first.content_type, second.content_type) == ("LK", "AL")

        for cut in (1, 7, 25, len(REAL_SOS) - 1):
            await watch.send(REAL_SOS[:cut])
            await asyncio.sleep(0.05)
            await watch.send(REAL_SOS[cut:])
            assert (await watch.reply()).content_type == "AL"

    sos_topic = event_topic(GW, Lane.ALARM, f"watch:{WATCH_ID}")
    await wait_until(lambda: len(on_topic(recorder, sos_topic)) == 5, 5, "five sos events")
    assert not dead_letters_of(recorder)


async def test_no_reply_while_broker_down_then_reply_and_event_after_restart(
    mosquitto: MosquittoProcess,
) -> None:
    # A persistent session, so the recorder gets what was published while it reconnected.
    rec = MqttRecorder(f"test-rec-{uuid4().hex[:8]}", clean_session=False)
    await asyncio.to_thread(rec.connect, mosquitto.host, mosquitto.port)
    await asyncio.to_thread(rec.subscribe, f"chub/v1/edge/{GW}/events/#", 1)
    edge = await start_edge(make_settings(mosquitto, edge_publish_timeout_s=60.0))
    try:
        async with await WatchConn.open(edge.server.port) as watch:
            await asyncio.to_thread(mosquitto.stop)
            await wait_until(lambda: not edge.uplink.connected, 10, "uplink saw the outage")
            await watch.send(REAL_SOS)
            # Not on the broker, so not acknowledged to the watch.
            await watch.no_reply(2.0)
            await asyncio.to_thread(mosquitto.start)
            reply = await watch.reply(within_s=40.0)
            assert reply.content_type == "AL"
        sos_topic = event_topic(GW, Lane.ALARM, f"watch:{WATCH_ID}")
        await wait_until(lambda: bool(on_topic(rec, sos_topic)), 40, "sos delivered after restart")
        assert DeviceEvent.model_validate_json(on_topic(rec, sos_topic)[0].payload).raw == REAL_SOS
    finally:
        await stop_edge(edge)
        await asyncio.to_thread(rec.close)


class _TimingOutUplink:
    """An uplink whose broker never answers."""

    def __init__(self) -> None:
        self.calls = 0

    async def publish_event(self, event: DeviceEvent) -> None:
        self.calls += 1
        raise UplinkTimeout("no PUBACK")

    async def publish_dead_letter(self, dl: DeadLetter) -> None:
        self.calls += 1
        raise UplinkTimeout("no PUBACK")


async def test_uplink_timeout_means_no_reply_and_connection_stays() -> None:
    uplink = _TimingOutUplink()
    server = WatchServer(EdgeSettings(gateway_id=GW), uplink, host="127.0.0.1", port=0)
    await server.start()
    try:
        async with await WatchConn.open(server.port) as watch:
            await watch.send(REAL_SOS)
            await watch.no_reply(0.5)
            await watch.send(encode_frame("3G", WATCH_ID, "INIT,13800000000,1,1"))
            # INIT gives no events, so nothing to wait for: it is answered.
            assert (await watch.reply()).content == b"INIT,1"
        assert server.stats.publish_failures >= 1  # one per event of the SOS frame
        assert server.stats.replies == 1
    finally:
        await server.stop()


async def test_idle_connection_is_closed(
    mosquitto: MosquittoProcess,
    recorder: MqttRecorder,  # a subscriber: the broker drops what nobody takes
) -> None:
    edge = await start_edge(make_settings(mosquitto, watch_idle_timeout_s=0.3))
    try:
        async with await WatchConn.open(edge.server.port) as watch:
            await watch.send(REAL_LK)
            await watch.reply()
            async with asyncio.timeout(5):
                assert await watch.reader.read(100) == b""
        await wait_until(lambda: edge.server.stats.connections_open == 0, 2, "closed")
        assert edge.server.stats.idle_closed == 1
    finally:
        await stop_edge(edge)


async def test_stop_closes_open_connections(
    edge: Edge,
    recorder: MqttRecorder,  # a subscriber: the broker drops what nobody takes
) -> None:
    async with await WatchConn.open(edge.server.port) as watch:
        await watch.send(REAL_LK)
        await watch.reply()
        assert edge.server.stats.connections_open == 1
        await edge.server.stop()
        async with asyncio.timeout(5):
            assert await watch.reader.read(100) == b""
    assert edge.server.stats.connections_open == 0


# -- the gateway as a whole -------------------------------------------------------------


async def test_gateway_status_online_then_offline(
    mosquitto: MosquittoProcess, recorder: MqttRecorder
) -> None:
    settings = make_settings(mosquitto, watch_port=free_port())
    task = asyncio.create_task(run_edge(settings))
    status = gateway_status_topic(GW)
    try:
        await wait_until(
            lambda: [bytes(m.payload) for m in on_topic(recorder, status)][-1:] == [b"online"],
            10,
            "online",
        )
        # "online" is the uplink's; the watch server may start listening a moment later.
        async with asyncio.timeout(10):
            while True:
                try:
                    reply = await send_once(
                        "127.0.0.1", settings.watch_port, REAL_LK, expect_reply=True
                    )
                    break
                except ConnectionRefusedError:
                    await asyncio.sleep(0.05)
        assert reply is not None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await wait_until(
        lambda: [bytes(m.payload) for m in on_topic(recorder, status)][-1:] == [b"offline"],
        10,
        "offline after stop",
    )


async def test_edge_gateway_start_stop(mosquitto: MosquittoProcess) -> None:
    gateway = EdgeGateway(make_settings(mosquitto, watch_port=free_port()))
    await gateway.start()
    try:
        async with asyncio.timeout(10):
            await gateway.uplink.wait_connected()
        reply = await send_once("127.0.0.1", gateway.watch_server.port, REAL_SOS, expect_reply=True)
        assert reply == encode_frame("3G", WATCH_ID, "AL")
    finally:
        await gateway.stop()
    assert not gateway.uplink.connected


# -- the simulator -------------------------------------------------------------------------


def test_simulated_frames_decode_to_the_intended_events() -> None:
    watch = SimulatedWatch("4700609403")
    now = datetime.now(UTC)
    kinds: dict[bytes, list[str]] = {}
    for frame in (
        watch.heartbeat(),
        watch.position(),
        watch.alarm("sos"),
        watch.alarm("fall"),
        watch.pulse(),
        watch.blood_pressure(),
    ):
        events = to_events(decode_frame(frame), received_at=now, gateway_id=GW)
        kinds[frame] = [e.kind for e in events]
    got = list(kinds.values())
    assert got[0] == ["wristband.heartbeat"]
    assert got[1][0] == "wristband.position"
    assert "wristband.sos" in got[2]
    assert "wristband.fall" in got[3]
    assert got[4] == ["wristband.heart_rate"]
    assert got[5] == ["wristband.blood_pressure"]
    zj = SimulatedWatch("8800000015", manufacturer="ZJ")
    assert decode_frame(zj.heartbeat()).index == "0001"
    assert decode_frame(zj.heartbeat()).index == "0002"


async def test_simulator_against_the_edge(edge: Edge, recorder: MqttRecorder) -> None:
    ids = ["4700000001", "4700000002"]
    sent: Counter[str] = Counter()
    report = await run_simulator(
        "127.0.0.1",
        edge.server.port,
        ids,
        duration_s=3.0,
        alarm_every_s=0.5,
        heartbeat_every_s=0.5,
        position_every_s=1.0,
        on_sent=lambda device_id, ctype: sent.update([ctype]),
        rng_seed=7,
    )
    assert report.frames_sent == sent
    assert report.frames_sent["LK"] >= 4
    assert report.frames_sent["UD"] >= 2
    assert report.alarms_sent, "expected some alarms in 3 s at one per 0.5 s"
    assert {d for d, _ in report.alarms_sent} <= set(ids)
    # Every LK and AL was answered, in order.
    assert report.replies_by_type["LK"] == report.frames_sent["LK"]
    assert report.replies_by_type["AL"] == report.frames_sent["AL"] == len(report.alarms_sent)
    assert report.replies_received == report.frames_sent["LK"] + report.frames_sent["AL"]
    assert report.unexpected_replies == report.unanswered == report.reconnects == 0

    # And every alarm is on the broker, on the alarm lane, for the right watch.
    want = Counter((f"watch:{d}", f"wristband.{k}") for d, k in report.alarms_sent)

    def alarms_seen() -> Counter[tuple[str, str]]:
        return Counter(
            (e.device_id, e.kind)
            for topic, e in events_of(recorder)
            if e.kind in ("wristband.sos", "wristband.fall") and "/events/alarm/" in topic
        )

    await wait_until(lambda: alarms_seen() == want, 5, f"alarms {want} on the broker")
    assert not dead_letters_of(recorder)
    assert edge.server.stats.connections_total == 2


async def test_simulator_reconnects_when_the_edge_drops_it(mosquitto: MosquittoProcess) -> None:
    settings = make_settings(mosquitto)
    edge = await start_edge(settings)
    port = edge.server.port
    try:
        sim = asyncio.create_task(
            run_simulator(
                "127.0.0.1",
                port,
                ["4700000003"],
                duration_s=3.0,
                alarm_every_s=None,
                heartbeat_every_s=0.2,
                position_every_s=1.0,
            )
        )
        await asyncio.sleep(1.0)
        # Restart the server on the same port: the watch's connection drops.
        await edge.server.stop()
        edge.server = WatchServer(settings, edge.uplink, host="127.0.0.1", port=port)
        await edge.server.start()
        report = await sim
        assert report.reconnects >= 1
        assert edge.server.stats.frames > 0
    finally:
        await stop_edge(edge)
