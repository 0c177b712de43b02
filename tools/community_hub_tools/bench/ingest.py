"""Ingest throughput at QoS 1: the hub against a bare paho consumer, same broker, same load.

Issue 7, figures 1 and 5. One run measures, one after the other, on one
Mosquitto started from the project's configuration:

1. a bare paho-mqtt consumer (its own process, QoS 1 subscription to every
   event topic, paho's automatic acknowledgement, counting arrivals and doing
   nothing else): the ceiling of this broker and client library here;
2. the real ``community-hub hub`` process(es) on a fresh database: one hub on
   SQLite (figure 1), or one and then N hubs on PostgreSQL sharing the
   subscription (figure 5).

"Same load" means the same messages offered the same way: one publisher
process publishes the same ``count`` ``DeviceEvent`` messages (the same
realistic mix, the same order) at QoS 1 as fast as it can with at most
``_WINDOW`` unacknowledged by the broker. The broker queues what a consumer has
not taken yet (``max_queued_messages`` is far above ``count``), so a consumer's
rate is what it took: messages counted (bare) or events found in the database
(hub), divided by the time from the first publish to the last arrival. Loss is
counted from the store, not from what was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import random
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from tqdm import tqdm

from chub_mqtt.topics import EVENTS_SUBSCRIPTION, alarm_client_id, event_topic
from community_hub_tools.bench.floor import durable_consume, floor_client_id
from community_hub_tools.broker.mosquitto import (
    free_port,
    started_mosquitto,
)
from device_adapters.model import DeviceEvent, Lane
from hub.settings import local_metrics_headers, local_production_env
from hub.storage.db import Database

GATEWAY = "bench-ingest"
RATIO_TARGET = 0.5
_WINDOW = 1000  # QoS 1 publishes unacknowledged by the broker, at most
_ZERO_ID = str(UUID(int=0))
_DONE_TIMEOUT_S = 600.0


# -- the message mix ------------------------------------------------------------------


def event_mix() -> list[DeviceEvent]:
    """Telemetry events of every device family, decoded from the codec benchmark's samples.

    Alarm-lane events are left out: the hub reads them on a connection of their
    own and turns them into tickets; the SOS benchmark measures that path.
    """
    from community_hub_tools.bench.samples import SAMPLES
    from device_adapters.base import MessageAdapter, MessageContext, Rejected, StreamAdapter
    from device_adapters.registry import load_adapters

    now = datetime.now(UTC)
    adapters = load_adapters()
    out: list[DeviceEvent] = []
    for name, make in SAMPLES.items():
        adapter, sample = adapters.get(name), make()
        if isinstance(adapter, StreamAdapter):
            stream = adapter.new_stream()
            for item in stream.feed(b"".join(sample.payloads)):
                if not isinstance(item, Rejected):
                    out += adapter.to_events(item, received_at=now, gateway_id=GATEWAY)
        elif isinstance(adapter, MessageAdapter):
            ctx = MessageContext(
                received_at=now, gateway_id=GATEWAY, source="bench", device_hint=sample.hint
            )
            for payload in sample.payloads:
                out += adapter.decode(payload, ctx)
    return [e for e in out if e.lane is not Lane.ALARM]


def _templates() -> list[tuple[str, str]]:
    """(topic, JSON with a zero event id) per event of the mix."""
    return [
        (
            event_topic(GATEWAY, e.lane, e.device_id),
            e.model_copy(update={"event_id": UUID(int=0)}).model_dump_json(),
        )
        for e in event_mix()
    ]


# -- the publisher and the bare consumer, each in a process of its own ---------------


def _nodelay(client: Any) -> None:
    sock = client.socket()
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _connect(client: Any, port: int) -> bool:
    connected = [False]

    def on_connect(c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            _nodelay(c)
            connected[0] = True

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    deadline = time.monotonic() + 20
    while not connected[0] and time.monotonic() < deadline:
        client.loop(timeout=0.1)
    return connected[0]


def _publish(port: int, count: int, pipe: Connection, go: MpEvent) -> None:
    """Publish ``count`` messages as fast as the window allows once ``go`` is set.

    Reports ("done", started, finished, published, acknowledged); times are
    ``time.monotonic()``, one clock for every process on the machine.
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    templates = _templates()
    rng = random.Random(7)  # the same event ids in every phase of a run: same messages
    messages = [
        (topic, body.replace(_ZERO_ID, str(UUID(int=rng.getrandbits(128), version=4)), 1).encode())
        for topic, body in (templates[i % len(templates)] for i in range(count))
    ]
    acked = [0]

    def on_publish(_c: Any, _u: Any, _mid: int, _rc: Any, _p: Any) -> None:
        acked[0] += 1

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{GATEWAY}-pub-{os.getpid()}",
        clean_session=True,
        protocol=mqtt.MQTTv311,
    )
    client.max_inflight_messages_set(_WINDOW)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    try:
        if not _connect(client, port):
            pipe.send(("error", "the publisher could not connect to the broker"))
            return
        pipe.send(("ready",))
        go.wait()
        started = time.monotonic()
        sent = 0
        while sent < count:
            room = _WINDOW - (sent - acked[0])
            for topic, payload in messages[sent : sent + min(room, 100)]:
                client.publish(topic, payload, qos=1)
                sent += 1
            client.loop(timeout=0 if room > 0 else 0.001)
        deadline = time.monotonic() + 60
        while acked[0] < sent and time.monotonic() < deadline:
            client.loop(timeout=0.01)
        pipe.send(("done", started, time.monotonic(), sent, acked[0]))
    finally:
        client.disconnect()


def _consume(port: int, count: int, pipe: Connection, stop: MpEvent) -> None:
    """A bare QoS 1 consumer: count arrivals (paho acknowledges each after the callback)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    arrived = [0]
    last = [0.0]

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        arrived[0] += 1
        last[0] = time.monotonic()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{GATEWAY}-bare-{os.getpid()}",
        clean_session=True,
        protocol=mqtt.MQTTv311,
    )
    client.on_message = on_message
    subscribed = [False]
    client.on_subscribe = lambda *_a: subscribed.__setitem__(0, True)
    try:
        if not _connect(client, port):
            pipe.send(("error", "the bare consumer could not connect to the broker"))
            return
        client.subscribe(EVENTS_SUBSCRIPTION, qos=1)
        while not subscribed[0]:
            client.loop(timeout=0.1)
        pipe.send(("ready",))
        next_report = time.monotonic() + 0.5
        while arrived[0] < count and not stop.is_set():
            client.loop(timeout=0.05)
            if time.monotonic() >= next_report:
                pipe.send(("progress", arrived[0], last[0]))
                next_report += 0.5
        pipe.send(("done", arrived[0], last[0]))
    finally:
        client.disconnect()


class _Child:
    def __init__(self, target: Any, *args: Any) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipe, child_end = ctx.Pipe()
        self.event = ctx.Event()
        self.process = ctx.Process(target=target, args=(*args, child_end, self.event), daemon=True)

    async def recv(self, timeout_s: float) -> tuple[Any, ...]:
        if not await asyncio.to_thread(self.pipe.poll, timeout_s):
            raise RuntimeError(f"a benchmark process said nothing for {timeout_s:.0f} s")
        message: tuple[Any, ...] = self.pipe.recv()
        if message[0] == "error":
            raise RuntimeError(message[1])
        return message

    async def start(self) -> None:
        self.process.start()
        await self.recv(120)

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


# -- results --------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    offered: int = 0
    published: int = 0  # acknowledged by the broker
    arrived: int = 0  # bare: counted by the consumer; hub: events in the database
    seconds: float = 0.0  # first publish → last arrival
    publish_s: float = 0.0  # first publish → last broker acknowledgement
    caught_up: bool = True

    @property
    def rate(self) -> float:
        return self.arrived / self.seconds if self.seconds else 0.0

    @property
    def lost(self) -> int:
        return self.published - self.arrived


@dataclass
class IngestResult:
    count: int
    mix: dict[str, int]
    bare: Phase
    hubs: list[Phase] = field(default_factory=list)
    # The bare consumer again after the hubs: the machine is shared, and the two bare
    # runs show how much its other load moved the ceiling meanwhile.
    bare_after: Phase | None = None
    # The durable floor (bench/floor.py) at each MQTT version: what storing
    # before acknowledging costs by itself, whatever else a hub does.
    floors: list[Phase] = field(default_factory=list)
    database: str = "SQLite"
    load_average: tuple[float, float] = (0.0, 0.0)

    @property
    def ceiling(self) -> float:
        """The faster bare run: the ratio is the hub against the best the broker gave."""
        return max(self.bare.rate, self.bare_after.rate if self.bare_after else 0.0)

    def ratio(self, phase: Phase) -> float:
        return phase.rate / self.ceiling if self.ceiling else 0.0

    @property
    def met(self) -> bool:
        last = self.hubs[-1]
        return last.lost == 0 and last.caught_up and self.ratio(last) >= RATIO_TARGET


# -- the run --------------------------------------------------------------------------


async def _stored(engine: AsyncEngine) -> int:
    """Events in the phase's database: all of them are the benchmark's (it is made afresh).

    A plain count(*) reads SQLite's narrowest index (0.5 ms at 100,000 events). The
    earlier count of this gateway's events scanned the table: 24 ms at 100,000
    events, ten times a second, on the same two cores as the hub it measured.
    """
    async with engine.connect() as conn:
        found = await conn.execute(sa.text("SELECT count(*) FROM events"))
        return int(found.scalar_one())


async def _publish_phase(
    phase: Phase, port: int, count: int, arrivals: Any, bar: tqdm[Any]
) -> None:
    """Start the publisher, let it go, and follow ``arrivals()`` until all have come."""
    publisher = _Child(_publish, port, count)
    await publisher.start()
    phase.offered = count
    try:
        publisher.event.set()
        done: tuple[Any, ...] | None = None
        last_progress = (time.monotonic(), -1)
        while True:
            arrived, last_at = await arrivals()
            bar.set_postfix(phase=phase.name, arrived=arrived, refresh=True)
            bar.n = int(arrived)
            bar.refresh()
            if done is None and publisher.pipe.poll():
                done = await publisher.recv(0)
            if done is not None and arrived >= done[4]:
                break
            if arrived != last_progress[1]:
                last_progress = (time.monotonic(), arrived)
            elif time.monotonic() - last_progress[0] > 60:
                phase.caught_up = False  # nothing arrived for a minute: stop, say so
                break
            await asyncio.sleep(0.1)
        if done is None:
            done = await publisher.recv(_DONE_TIMEOUT_S)
        _, started, finished, _sent, acked = done
        phase.published = int(acked)
        phase.arrived = int(arrived)
        phase.publish_s = finished - started
        phase.seconds = last_at - started
    finally:
        publisher.kill()


async def _bare_phase(
    port: int, count: int, bar: tqdm[Any], name: str = "bare paho consumer"
) -> Phase:
    return await _reference_phase(port, count, bar, name, _consume)


def forget_sessions(port: int, client_ids: list[str]) -> None:
    """End the persistent sessions of consumers whose phase is over.

    A durable consumer's session outlives it, subscription and all: the broker
    would queue every message of the later phases for it, and the consumers
    measured after it would pay for that queueing (the first runs of this
    benchmark did: the hub phase ran with two such sessions, the floors', and
    the last bare run with three). Connecting with a clean session under the
    same client id makes the broker discard the old one.
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    for client_id in client_ids:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        if not _connect(client, port):
            raise RuntimeError(f"could not end the broker session of {client_id}")
        client.disconnect()
        client.loop(timeout=0.1)


async def _floor_phase(port: int, count: int, bar: tqdm[Any], work: Path, mqtt5: bool) -> Phase:
    name = f"durable floor, MQTT {'5' if mqtt5 else '3.1.1'}"
    db_path = work / f"floor-{'5' if mqtt5 else '311'}.sqlite3"
    phase = await _reference_phase(port, count, bar, name, durable_consume, mqtt5, str(db_path))
    await asyncio.to_thread(forget_sessions, port, [floor_client_id(mqtt5)])
    return phase


async def _reference_phase(
    port: int, count: int, bar: tqdm[Any], name: str, target: Any, *args: Any
) -> Phase:
    """A consumer process that reports what it has taken (bare) or committed (floor)."""
    phase = Phase(name)
    consumer = _Child(target, port, count, *args)
    await consumer.start()
    state = {"arrived": 0, "last": time.monotonic(), "done": False}

    async def arrivals() -> tuple[int, float]:
        # After "done" the process may have exited: its pipe then reads as closed.
        while not state["done"] and consumer.pipe.poll():
            message = await consumer.recv(0)
            state["arrived"], state["last"] = message[1], message[2]
            state["done"] = message[0] == "done"
        return int(state["arrived"]), float(state["last"])

    try:
        await _publish_phase(phase, port, count, arrivals, bar)
    finally:
        consumer.event.set()
        consumer.kill()
    return phase


def _hub_client_id(n: int) -> str:
    return f"bench-hub-{n}"


@contextlib.asynccontextmanager
async def _hubs(
    work: Path, broker_port: int, url: str, hubs: int, shared_group: str | None
) -> AsyncIterator[list[str]]:
    """``hubs`` × ``community-hub hub`` on ``url``; yields their API base URLs once connected."""
    apis: list[str] = []
    procs: list[asyncio.subprocess.Process] = []
    logs: list[Path] = []
    production = local_production_env()  # `community-hub hub` runs in production only
    try:
        for n in range(hubs):
            api_port = free_port()
            env = {
                **os.environ,
                **production,
                "HUB_DATA_DIR": str(work / f"hub-{n}"),
                "HUB_DATABASE_URL": url,
                "HUB_MQTT_HOST": "127.0.0.1",
                "HUB_MQTT_PORT": str(broker_port),
                "HUB_API_HOST": "127.0.0.1",
                "HUB_API_PORT": str(api_port),
                "HUB_MQTT_CLIENT_ID": _hub_client_id(n),
            }
            if shared_group:
                env[shared_group_setting() or "HUB_MQTT_SHARED_GROUP"] = shared_group
            logs.append(work / f"hub-{n}.log")
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "hub.cli",
                    "hub",
                    env=env,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=logs[-1].open("w"),
                )
            )
            apis.append(f"http://127.0.0.1:{api_port}")
        async with httpx.AsyncClient(timeout=5) as client:
            for api, proc, log in zip(apis, procs, logs, strict=True):
                deadline = time.monotonic() + 90
                while True:
                    with contextlib.suppress(httpx.HTTPError, ValueError):
                        if (
                            (await client.get(f"{api}/healthz", headers=local_metrics_headers()))
                            .json()
                            .get("mqtt_connected")
                        ):
                            break
                    if proc.returncode is not None or time.monotonic() > deadline:
                        tail = log.read_text()[-2000:] if log.exists() else ""
                        raise RuntimeError(f"a hub did not reach the broker:\n{tail}")
                    await asyncio.sleep(0.2)
        yield apis
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in procs:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 15)


async def _hub_phase(
    name: str,
    work: Path,
    broker_port: int,
    url: str,
    hubs: int,
    count: int,
    bar: tqdm[Any],
    shared_group: str | None = None,
) -> Phase:
    db = Database.open(url)
    try:
        await db.migrate()  # before the hubs start, so that several do not race to do it
    finally:
        await db.close()
    phase = Phase(name)
    engine = create_async_engine(url)
    try:
        async with _hubs(work, broker_port, url, hubs, shared_group):
            state = {"stored": 0, "last": time.monotonic()}

            async def arrivals() -> tuple[int, float]:
                stored = await _stored(engine)
                if stored != state["stored"]:
                    state["stored"], state["last"] = stored, time.monotonic()
                return int(state["stored"]), float(state["last"])

            await _publish_phase(phase, broker_port, count, arrivals, bar)
    finally:
        await engine.dispose()
    clients = [_hub_client_id(n) for n in range(hubs)]
    await asyncio.to_thread(
        forget_sessions, broker_port, clients + [alarm_client_id(c) for c in clients]
    )
    return phase


def _mix_summary() -> dict[str, int]:
    kinds: dict[str, int] = {}
    for e in event_mix():
        kinds[e.family.value] = kinds.get(e.family.value, 0) + 1
    return kinds


async def run_ingest_bench(count: int = 100_000, progress: bool = True) -> IngestResult:
    """Figure 1: the bare consumer, then one hub on SQLite, same broker and load."""
    result = IngestResult(count, _mix_summary(), Phase("bare"))
    before = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="chub-bench-ingest-") as tmp,
        tqdm(total=count, unit="msg", desc="ingest", disable=not progress) as bar,
    ):
        work = Path(tmp)
        async with started_mosquitto(work, "the ingest benchmark") as broker:
            result.bare = await _bare_phase(broker.port, count, bar)
            for mqtt5 in (True, False):
                result.floors.append(await _floor_phase(broker.port, count, bar, work, mqtt5))
            url = f"sqlite+aiosqlite:///{work / 'hub.sqlite3'}"
            result.hubs.append(
                await _hub_phase("hub, SQLite", work, broker.port, url, 1, count, bar)
            )
            result.bare_after = await _bare_phase(broker.port, count, bar, "bare, again")
    result.load_average = (before, os.getloadavg()[0])
    return result


# -- PostgreSQL, several hubs ---------------------------------------------------------


def shared_group_setting() -> str | None:
    """The hub's environment variable for a shared subscription group, if it has one.

    Looked up by name (``HUB_SHARED_GROUP`` or any setting with "shared" and "group"
    in its name), so the benchmark follows the setting as the hub spells it.
    """
    from hub.settings import env_names

    for name in sorted(env_names()):
        if "SHARED" in name and "GROUP" in name:
            return name
    return None


def shared_group_supported() -> bool:
    return shared_group_setting() is not None


@contextlib.asynccontextmanager
async def fresh_postgres(base_url: str, suffix: str) -> AsyncIterator[str]:
    """A new database named after ``base_url``'s, dropped afterwards; yields its URL.

    Only databases this function created are dropped.
    """
    import asyncpg  # type: ignore[import-untyped]

    url = make_url(base_url)
    name = f"{url.database or 'chub_bench'}_{suffix}_{os.getpid()}"
    admin = await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database="postgres",
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def run_multihub_bench(
    database_url: str, hubs: int = 3, count: int = 100_000, progress: bool = True
) -> IngestResult:
    """Figure 5: the bare consumer, one hub on PostgreSQL, then ``hubs`` sharing the ingest."""
    if not shared_group_supported():
        raise RuntimeError(
            "this hub has no HUB_SHARED_GROUP setting yet: several hubs would each take "
            "every message; the multi-hub benchmark needs shared subscriptions"
        )
    result = IngestResult(count, _mix_summary(), Phase("bare"), database="PostgreSQL")
    before = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="chub-bench-multihub-") as tmp,
        tqdm(total=count, unit="msg", desc="multi-hub", disable=not progress) as bar,
    ):
        work = Path(tmp)
        async with started_mosquitto(work, "the ingest benchmark") as broker:
            result.bare = await _bare_phase(broker.port, count, bar)
            for n in sorted({1, hubs}):
                async with fresh_postgres(database_url, f"{n}hub") as url:
                    label = f"{n} hub{'s' if n > 1 else ''}, PostgreSQL"
                    result.hubs.append(
                        await _hub_phase(
                            label, work, broker.port, url, n, count, bar, "chub-bench-ingest"
                        )
                    )
            result.bare_after = await _bare_phase(broker.port, count, bar, "bare, again")
    result.load_average = (before, os.getloadavg()[0])
    return result


# -- the report -----------------------------------------------------------------------


def _row(r: IngestResult, phase: Phase, bare: bool = False) -> str:
    ratio = f"({r.ratio(phase):.2f})" if bare else f"**{r.ratio(phase):.2f}**"
    arrived = f"{phase.arrived:,} / {phase.published:,}"
    if not phase.caught_up:
        arrived += " (stopped: nothing arrived for 60 s)"
    return (
        f"| {phase.name} | {phase.rate:,.0f} msg/s | {arrived} | {phase.lost:,} | "
        f"{phase.published / phase.publish_s if phase.publish_s else 0:,.0f} msg/s | {ratio} |"
    )


def _floor_text(r: IngestResult) -> str:
    if not r.floors:
        return ""
    return (
        "The durable floors (`community_hub_tools/bench/floor.py`) are the least a consumer that "
        "acknowledges only what it has stored can do, in a process of its own: paho-mqtt "
        "with manual acknowledgement at the MQTT version named (the hub speaks 5), each "
        "message parsed with orjson, rows inserted with sqlite3's own executemany in "
        "transactions of up to 500, committed, then acknowledged; no validation, state, "
        "rules or history. They bound what any Python hub on paho reaches here. "
    )


def _floor_note(r: IngestResult) -> str:
    return "".join(
        f"; {phase.name}: {r.ratio(phase):.2f}" for phase in r.floors if "MQTT 5" in phase.name
    )


def markdown(r: IngestResult, title: str, figure: str) -> str:
    mix = ", ".join(f"{family} {n}" for family, n in sorted(r.mix.items()))
    last = r.hubs[-1]
    verdict = "**met**" if r.met else "**not met**"
    lines = [
        f"## {title}",
        "",
        f"One Mosquitto from `docker/mosquitto/mosquitto.conf`; one publisher process "
        f"(paho-mqtt, QoS 1, at most {_WINDOW:,} unacknowledged) offers the same "
        f"{r.count:,} `DeviceEvent` messages, as fast as it can, to each consumer in turn. "
        f"The messages cycle through the telemetry events decoded from the codec "
        f"benchmark's samples (per cycle: {mix}; alarms are the SOS figure's). The bare "
        "consumer is one paho-mqtt client in its own process, subscribed at QoS 1 to "
        "every event topic, counting arrivals (paho acknowledges after the callback); "
        "it runs before the hubs and again after them, and the ratio is to the faster of "
        "its two runs, so the machine's other load cannot flatter the hub. "
        f"{_floor_text(r)}"
        f"The hub is `community-hub hub` with default settings on a fresh {r.database} "
        "database; what counts is the events found in its database. Rate: what arrived "
        "over the time from the first publish to the last arrival. All processes share "
        f"the machine's {os.cpu_count()} cores with other engineers' work: 1-minute load "
        f"average {r.load_average[0]:.1f} before, {r.load_average[1]:.1f} after.",
        "",
        "| consumer | taken | arrived / acknowledged by the broker | lost | "
        "publisher, acknowledged | ratio to bare |",
        "|---|---:|---:|---:|---:|---:|",
        _row(r, r.bare, bare=True),
        *(_row(r, phase, bare=True) for phase in r.floors),
        *(_row(r, phase) for phase in r.hubs),
        *([_row(r, r.bare_after, bare=True)] if r.bare_after else []),
        "",
        f"Target: {last.name} ≥ {RATIO_TARGET} of the bare consumer, with zero loss: "
        f"{r.ratio(last):.2f}, lost {last.lost:,}: {verdict}.",
        "",
        f"<!-- summary: {figure} | {r.ratio(last):.2f} of bare "
        f"({last.rate:,.0f} / {r.ceiling:,.0f} msg/s), lost {last.lost:,}{_floor_note(r)} | "
        f"≥ {RATIO_TARGET}, zero loss | {'met' if r.met else 'not met'} -->",
    ]
    return "\n".join(lines)
