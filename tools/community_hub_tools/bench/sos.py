"""SOS latency: a watch's SOS frame → edge → Mosquitto → hub → the on-duty volunteer's live stream.

The target: an SOS reaches the on-duty volunteer's live connection
within p99 < 100 ms of entering the edge with the hub otherwise idle, and
p99 < 300 ms while the hub ingests background telemetry at 5,000 events/s.

Set up as a deployment runs: Mosquitto from the project's configuration,
``community-hub hub`` (hub and API) and ``community-hub edge`` as processes of
their own, on a database seeded with the demo community plus one elderly
resident with a wristband per sample, all in a grid whose volunteer is on duty.
The benchmark logs in as that volunteer and reads ``GET
/api/v1/notifications/stream`` as a phone would.

One sample: a simulated watch, connected and heard from (one LK heartbeat)
beforehand, writes one AL frame with the SOS bit. t0 is taken just before the
write; t1 when the ``ticket.assigned`` event naming that wearer has been read
from the stream. Every sample is another wearer, because a repeated alarm of a
device attaches to its open alert and tells nobody. Samples go out on a fixed
schedule (open loop), not after the previous one's answer, so one slow answer
cannot hide the ones queued behind it. The time until the edge replied to the
frame (the alarm is then in its durable outbox) is recorded too.

Two phases: the hub otherwise idle, then with background telemetry: another
process publishes LK heartbeat ``DeviceEvent``s of 1,000 watches straight to
the broker, on the topic an edge uses and at QoS 1, as a second gateway
(``bench-load``), paced at the target rate with at most ``_LOAD_WINDOW``
messages unacknowledged. What counts is what the broker acknowledged and what
the hub stored (read from its SQLite once it has caught up).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import random
import re
import socket
import sqlite3
import sys
import tempfile
import time
from collections import Counter
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
from tqdm import tqdm

from chub_mqtt.topics import event_topic
from community_hub_tools.bench.stats import percentile
from community_hub_tools.broker.mosquitto import MosquittoProcess, find_mosquitto, free_port
from community_hub_tools.demo.seed import DEMO_PASSWORD, building_name, seed_demo
from community_hub_tools.sim.watch import SimulatedWatch
from device_adapters.model import Lane
from device_adapters.watch import WatchFrame, WatchStream, decode_frame, encode_frame, to_events
from hub.devices.service import register_device
from hub.duty.service import on_duty
from hub.schema.events import events
from hub.schema.grid import buildings, households
from hub.schema.residents import residents
from hub.schema.users import users
from hub.settings import local_metrics_headers, local_production_env
from hub.storage.db import Database

IDLE_TARGET_MS = 100.0
LOADED_TARGET_MS = 300.0

_SOS_KINDS = frozenset({"wristband.sos", "wristband.fall"})
_WEARER = "Bench wearer"
_WEARER_RE = re.compile(_WEARER + r" (\d{4})\b")
# The grid the bench wearers live in: 3号楼 is in the demo's 第二网格, whose
# primary volunteer is on duty around the clock (no shift change mid-run).
_BUILDING = building_name(3)

_LOAD_GATEWAY = "bench-load"
LOAD_DEVICES = 1000  # distinct watches the background heartbeats come from
_LOAD_WINDOW = 1000  # QoS 1 publishes the load generator keeps unacknowledged at most
_LOAD_MAX_DEBT_S = 0.1  # a publisher further behind its schedule skips, it does not burst
_ZERO_ID = str(UUID(int=0))
_AT_SENTINEL = datetime(2000, 1, 1, tzinfo=UTC)

_ARRIVAL_TIMEOUT_S = 120.0
_DRAIN_TIMEOUT_S = 300.0
_READ_SIZE = 4096


def _native_id(n: int) -> str:
    return f"87{n:08d}"


def _wearer_name(n: int) -> str:
    return f"{_WEARER} {n:04d}"


@dataclass
class Sample:
    wearer: int
    t0_wall: float  # time.time() at t0, to place the hub's own timestamps on the same line
    latency_ms: float | None = None  # t1 - t0; None if the event never arrived
    edge_reply_ms: float | None = None
    # From the stored SOS event: t0 → the edge's received_at → the hub's stored_at (the
    # start of the transaction that stored it) → t1.
    to_edge_ms: float | None = None
    edge_to_hub_ms: float | None = None
    hub_to_stream_ms: float | None = None


@dataclass
class Phase:
    name: str
    target_ms: float
    samples: list[Sample] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return len(self.samples)

    @property
    def latencies_ms(self) -> list[float]:
        return [s.latency_ms for s in self.samples if s.latency_ms is not None]

    @property
    def arrived(self) -> int:
        return len(self.latencies_ms)

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    def segment(self, name: str, q: float) -> float:
        values = [getattr(s, name) for s in self.samples]
        return percentile([v for v in values if v is not None], q)

    @property
    def met(self) -> bool:
        return self.arrived == self.sent > 0 and self.p(99) < self.target_ms


@dataclass
class LoadStats:
    """The background publisher's own account, from its process."""

    target_rate: float
    duration_s: float = 0.0
    published: int = 0  # handed to paho
    acknowledged: int = 0  # PUBACKed by the broker
    skipped: int = 0  # schedule slots given up because the publisher was behind

    @property
    def rate(self) -> float:
        return self.acknowledged / self.duration_s if self.duration_s else 0.0


@dataclass
class SosResult:
    samples: int
    sample_every_s: float
    warmup_s: float
    load_devices: int
    volunteer: str
    idle: Phase
    loaded: Phase
    load: LoadStats
    window_s: float = 0.0  # the loaded phase, first sample to last arrival
    hub_stored_in_window: int = 0  # every event the hub stored meanwhile (healthz)
    load_stored: int = 0  # background events in the hub's database at the end
    drain_s: float | None = None  # after the load stopped, until the hub had stored all of it
    stream_kinds: Counter[str] = field(default_factory=Counter)
    lagged: int = 0
    # The machine's 1-minute load average before and after: it is shared.
    load_average: tuple[float, float] = (math.nan, math.nan)

    @property
    def hub_rate_in_window(self) -> float:
        return self.hub_stored_in_window / self.window_s if self.window_s else 0.0


# -- the database the hub starts on --------------------------------------------------


async def _prepare_database(url: str, wearers: int) -> str:
    """Migrate, seed the demo and ``wearers`` bench wearers; the on-duty volunteer's username."""
    db = Database.open(url)
    try:
        await db.migrate()
        async with db.write() as conn:
            await seed_demo(conn)
            building_id, grid_id = (
                await conn.execute(
                    sa.select(buildings.c.id, buildings.c.grid_id).where(
                        buildings.c.name == _BUILDING
                    )
                )
            ).one()
            for n in range(wearers):
                household = await conn.execute(
                    households.insert().values(
                        building_id=building_id, unit=f"B{n:04d}", address=f"Bench Lane {n}"
                    )
                )
                assert household.inserted_primary_key is not None
                household_id = int(household.inserted_primary_key[0])
                resident = await conn.execute(
                    residents.insert().values(
                        household_id=household_id,
                        full_name=_wearer_name(n),
                        birth_year=1940,
                        is_elderly=True,
                        lives_alone=True,
                    )
                )
                assert resident.inserted_primary_key is not None
                await register_device(
                    conn,
                    device_id=f"watch:{_native_id(n)}",
                    family="wristband",
                    protocol="watch",
                    name=f"{_wearer_name(n)}的手环",
                    household_id=household_id,
                    resident_id=int(resident.inserted_primary_key[0]),
                )
            now = datetime.now(UTC)
            on_call = await on_duty(conn, grid_id, now, "primary") or await on_duty(
                conn, grid_id, now, "backup"
            )
            if not on_call:
                raise RuntimeError(f"nobody is on duty in the grid of {_BUILDING}")
            username = (
                await conn.execute(sa.select(users.c.username).where(users.c.id == on_call[0]))
            ).scalar_one()
            return str(username)
    finally:
        await db.close()


def _stored_load(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM events WHERE gateway_id = ?", (_LOAD_GATEWAY,)
        ).fetchone()
        return int(row[0])


# -- the volunteer's live stream -----------------------------------------------------


class _Stream:
    """Reads the SSE stream and resolves, per wearer, the future of its sample."""

    def __init__(self) -> None:
        self.waiting: dict[int, asyncio.Future[float]] = {}
        self.kinds: Counter[str] = Counter()
        self.lagged = 0
        self.connected = asyncio.Event()

    async def run(self, response: httpx.Response) -> None:
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line:
                if line.startswith(":"):
                    if line[1:].strip() == "connected":
                        self.connected.set()
                    continue
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
                continue
            if fields:
                self._event(fields, time.perf_counter())
                fields = {}

    def _event(self, fields: dict[str, str], at: float) -> None:
        kind = fields.get("event", "message")
        if kind == "lagged":
            self.lagged += 1
            return
        if "data" not in fields:
            return
        self.kinds[kind] += 1
        body: dict[str, Any] = json.loads(fields["data"])
        if body.get("device_kind") not in _SOS_KINDS or not kind.startswith("ticket."):
            return
        found = _WEARER_RE.search(str(body.get("title", "")))
        if found is None:
            return
        future = self.waiting.get(int(found.group(1)))
        if future is not None and not future.done():
            future.set_result(at)


# -- the watches ---------------------------------------------------------------------


async def _read_frame(reader: asyncio.StreamReader) -> WatchFrame:
    stream = WatchStream()
    while True:
        data = await reader.read(_READ_SIZE)
        if not data:
            raise ConnectionError("the edge closed the connection")
        for item in stream.feed(data):
            if isinstance(item, WatchFrame):
                return item
            raise ValueError(f"the edge sent a bad frame: {item.reason}")


class _Watch:
    def __init__(self, n: int) -> None:
        self.n = n
        self.sim = SimulatedWatch(_native_id(n))
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self, port: int) -> None:
        """Connect and send one heartbeat, as a watch does long before it raises an alarm."""
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.writer.write(self.sim.heartbeat())
        await self.writer.drain()
        await asyncio.wait_for(_read_frame(self.reader), 30)

    def send_sos(self) -> tuple[float, float]:
        """Write the AL frame; returns t0 (perf_counter, wall clock), taken just before."""
        assert self.writer is not None
        frame = self.sim.alarm("sos")
        t0_wall = time.time()
        t0 = time.perf_counter()
        self.writer.write(frame)
        return t0, t0_wall

    async def reply_at(self) -> float:
        assert self.reader is not None
        await _read_frame(self.reader)
        return time.perf_counter()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _run_phase(
    phase: Phase,
    watches: list[_Watch],
    stream: _Stream,
    every_s: float,
    bar: tqdm[Any],
) -> float:
    """Send one SOS per watch on a fixed schedule; returns the seconds until the last arrival."""
    loop = asyncio.get_running_loop()
    futures: list[asyncio.Future[float]] = []
    replies: list[asyncio.Task[float]] = []
    sent_at: list[float] = []
    started = time.perf_counter()
    for i, watch in enumerate(watches):
        delay = started + i * every_s - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        future: asyncio.Future[float] = loop.create_future()
        future.add_done_callback(lambda _f: bar.update(1))
        stream.waiting[watch.n] = future
        futures.append(future)
        t0, t0_wall = watch.send_sos()
        sent_at.append(t0)
        phase.samples.append(Sample(watch.n, t0_wall))
        replies.append(asyncio.create_task(watch.reply_at()))
    await asyncio.wait(futures, timeout=_ARRIVAL_TIMEOUT_S)
    await asyncio.wait(replies, timeout=10)
    for sample, t0, future, reply in zip(phase.samples, sent_at, futures, replies, strict=True):
        if future.done():
            sample.latency_ms = (future.result() - t0) * 1000
        else:
            future.cancel()
        if reply.done() and reply.exception() is None:
            sample.edge_reply_ms = (reply.result() - t0) * 1000
        else:
            reply.cancel()
    ends = [f.result() for f in futures if not f.cancelled()]
    return (max(ends) if ends else time.perf_counter()) - started


async def _breakdown(url: str, phases: list[Phase]) -> None:
    """Split each latency at the stored SOS event's received_at (edge) and stored_at (hub)."""
    by_device = {f"watch:{_native_id(s.wearer)}": s for p in phases for s in p.samples}
    db = Database.open(url)
    try:
        async with db.read() as conn:
            rows = await conn.execute(
                sa.select(events.c.device_id, events.c.received_at, events.c.stored_at).where(
                    events.c.kind == "wristband.sos", events.c.device_id.in_(list(by_device))
                )
            )
            for row in rows:
                sample = by_device[row.device_id]
                received = row.received_at.timestamp()
                stored = row.stored_at.timestamp()
                sample.to_edge_ms = (received - sample.t0_wall) * 1000
                sample.edge_to_hub_ms = (stored - received) * 1000
                if sample.latency_ms is not None:
                    t1_wall = sample.t0_wall + sample.latency_ms / 1000
                    sample.hub_to_stream_ms = (t1_wall - stored) * 1000
    finally:
        await db.close()


# -- the background telemetry, in a process of its own -------------------------------


def _load_templates(devices: int) -> list[tuple[str, str]]:
    """(topic, payload with a zero event id and a sentinel received_at) per load watch."""
    out: list[tuple[str, str]] = []
    for n in range(devices):
        native = f"86{n:08d}"
        frame = decode_frame(encode_frame("3G", native, f"LK,{1000 + n},0,80"))
        [event] = to_events(
            frame, received_at=_AT_SENTINEL, gateway_id=_LOAD_GATEWAY, new_id=lambda: UUID(int=0)
        )
        out.append(
            (event_topic(_LOAD_GATEWAY, Lane.TELEMETRY, event.device_id), event.model_dump_json())
        )
    return out


def _publish_load(port: int, rate: float, devices: int, pipe: Connection, stop: MpEvent) -> None:
    """Child process: publish heartbeats at ``rate``/s until ``stop``; report through ``pipe``.

    paho runs in this one thread (no ``loop_start``): ``publish`` writes to the
    socket at once and ``loop`` reads the PUBACKs, without a second thread
    contending for the GIL or a wake-up byte per message.
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    templates = _load_templates(devices)
    at_text = json.dumps(_AT_SENTINEL.isoformat().replace("+00:00", "Z"))
    assert all(at_text in payload for _t, payload in templates)
    rng = random.Random()
    acked = [0]
    connected = [False]

    def on_connect(client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            sock = client.socket()
            if isinstance(sock, socket.socket):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connected[0] = True

    def on_publish(_c: mqtt.Client, _u: Any, _mid: int, _rc: Any, _p: Any) -> None:
        acked[0] += 1

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{_LOAD_GATEWAY}-{os.getpid()}",
        clean_session=True,
        protocol=mqtt.MQTTv311,
    )
    client.max_inflight_messages_set(_LOAD_WINDOW)
    client.max_queued_messages_set(0)
    client.on_connect = on_connect
    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    try:
        deadline = time.monotonic() + 20
        while not connected[0] and time.monotonic() < deadline:
            client.loop(timeout=0.1)
        if not connected[0]:
            pipe.send(("error", "the load publisher could not connect to the broker"))
            return
        pipe.send(("ready", 0, 0))
        stats = LoadStats(target_rate=rate)
        started = time.monotonic()
        next_report = started + 1
        at = ""
        at_refreshed = 0.0
        i = 0
        while not stop.is_set():
            now = time.monotonic()
            if now - at_refreshed >= 0.1:
                at = json.dumps(datetime.now(UTC).isoformat().replace("+00:00", "Z"))
                at_refreshed = now
            due = int((now - started) * rate) - stats.skipped
            debt = due - stats.published
            if debt > rate * _LOAD_MAX_DEBT_S:
                skip = debt - int(rate * _LOAD_MAX_DEBT_S)
                stats.skipped += skip
                debt -= skip
            room = _LOAD_WINDOW - (stats.published - acked[0])
            for _ in range(min(debt, room, 100)):
                topic, payload = templates[i % devices]
                i += 1
                event_id = str(UUID(int=rng.getrandbits(128), version=4))
                body = payload.replace(_ZERO_ID, event_id, 1).replace(at_text, at, 1)
                client.publish(topic, body.encode(), qos=1)
                stats.published += 1
            if now >= next_report:
                pipe.send(("progress", stats.published, acked[0]))
                next_report += 1
            # Read the PUBACKs; wait for them (or the schedule) a little when there is nothing
            # to send.
            client.loop(timeout=0.001 if debt <= 0 or room <= 0 else 0)
        stats.duration_s = time.monotonic() - started
        deadline = time.monotonic() + 30
        while acked[0] < stats.published and time.monotonic() < deadline:
            client.loop(timeout=0.01)
        stats.acknowledged = acked[0]
        pipe.send(("done", stats.duration_s, stats.published, stats.acknowledged, stats.skipped))
    finally:
        client.disconnect()


class _LoadProcess:
    """The parent's handle on the publisher process."""

    def __init__(self, port: int, rate: float, devices: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._pipe, child = ctx.Pipe()
        self._stop = ctx.Event()
        self.stats = LoadStats(target_rate=rate)
        self.progress = (0, 0)  # published, acknowledged
        self._process = ctx.Process(
            target=_publish_load, args=(port, rate, devices, child, self._stop), daemon=True
        )

    def _recv(self, timeout_s: float) -> tuple[Any, ...]:
        if not self._pipe.poll(timeout_s):
            raise RuntimeError(f"the load publisher said nothing for {timeout_s:.0f} s")
        message: tuple[Any, ...] = self._pipe.recv()
        if message[0] == "error":
            raise RuntimeError(message[1])
        return message

    async def start(self) -> None:
        self._process.start()
        message = await asyncio.to_thread(self._recv, 60)
        assert message[0] == "ready"

    async def poll(self) -> None:
        """Take the progress reports that arrived."""
        while self._pipe.poll():
            message = self._recv(0)
            if message[0] == "progress":
                self.progress = (message[1], message[2])

    async def stop(self) -> LoadStats:
        self._stop.set()
        while True:
            message = await asyncio.to_thread(self._recv, 60)
            if message[0] == "done":
                break
        _, self.stats.duration_s, self.stats.published, self.stats.acknowledged = message[:4]
        self.stats.skipped = message[4]
        await asyncio.to_thread(self._process.join, 10)
        return self.stats

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)


# -- the run --------------------------------------------------------------------------


def _tail(log: Path) -> str:
    return log.read_text()[-2000:] if log.exists() else ""


async def _wait_for_port(
    port: int, proc: asyncio.subprocess.Process, log: Path, timeout_s: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if proc.returncode is not None:
                raise RuntimeError(
                    f"{log.stem} exited with {proc.returncode}:\n{_tail(log)}"
                ) from None
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{log.stem} did not listen on {port} in {timeout_s:.0f} s:\n{_tail(log)}"
                ) from None
            await asyncio.sleep(0.2)


async def _health(client: httpx.AsyncClient, api: str) -> dict[str, Any]:
    response = await client.get(f"{api}/healthz", headers=local_metrics_headers())
    body: dict[str, Any] = response.json()
    return body


async def _hub_stored(client: httpx.AsyncClient, api: str) -> int:
    return int((await _health(client, api))["ingest"]["stored"])


@dataclass
class _Running:
    """What one run has started: the hub's API, the edge's watch port, its database."""

    api: str
    watch_port: int
    broker_port: int
    db_path: Path
    volunteer: str


@contextlib.asynccontextmanager
async def _deployment(
    work: Path, wearers: int, env_extra: dict[str, str] | None = None
) -> AsyncIterator[_Running]:
    """Seeded database, Mosquitto, ``community-hub hub`` and ``community-hub edge``."""
    binary = find_mosquitto()
    if binary is None:
        raise RuntimeError("the SOS benchmark needs Mosquitto (apt-get install mosquitto)")
    data = work / "data"
    db_path = data / "hub.sqlite3"
    volunteer = await _prepare_database(f"sqlite+aiosqlite:///{db_path}", wearers)
    broker = MosquittoProcess(binary, work / "mosquitto", free_port())
    broker.write_config()
    broker.start()
    watch_port, api_port = free_port(), free_port()
    env = {
        **os.environ,
        **local_production_env(),  # `community-hub hub` and `edge` run in production only
        "HUB_DATA_DIR": str(data),
        "HUB_MQTT_HOST": "127.0.0.1",
        "HUB_MQTT_PORT": str(broker.port),
        "HUB_API_HOST": "127.0.0.1",
        "HUB_API_PORT": str(api_port),
        "EDGE_DATA_DIR": str(data),
        "EDGE_MQTT_HOST": "127.0.0.1",
        "EDGE_MQTT_PORT": str(broker.port),
        "EDGE_PORTS": f"watch={watch_port}",
        "EDGE_SERVERS": "watch",
        "EDGE_HOST": "127.0.0.1",
        # Every simulated watch connects from this one address; the bound is for a
        # carrier NAT's share of a real community, not for a benchmark's loopback.
        "EDGE_MAX_CONNECTIONS_PER_ADDRESS": str(wearers + 100),
        **(env_extra or {}),
    }
    env.pop("HUB_DATABASE_URL", None)
    logs = {role: work / f"{role}.log" for role in ("hub", "edge")}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hub.cli",
            role,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=logs[role].open("w"),
        )
        for role in ("hub", "edge")
    ]
    try:
        await _wait_for_port(api_port, procs[0], logs["hub"])
        await _wait_for_port(watch_port, procs[1], logs["edge"])
        yield _Running(f"http://127.0.0.1:{api_port}", watch_port, broker.port, db_path, volunteer)
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in procs:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 15)
        broker.stop()


@contextlib.asynccontextmanager
async def _live_stream(
    client: httpx.AsyncClient, api: str, username: str
) -> AsyncIterator[_Stream]:
    """Log in as ``username`` and read the notification stream until the block ends."""
    token = await client.post(
        f"{api}/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    token.raise_for_status()
    request = client.build_request(
        "GET",
        f"{api}/api/v1/notifications/stream",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    )
    response = await client.send(request, stream=True)
    try:
        response.raise_for_status()
        stream = _Stream()
        reading = asyncio.create_task(stream.run(response))
        try:
            await asyncio.wait_for(stream.connected.wait(), 10)
            yield stream
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await reading
    finally:
        await response.aclose()


async def _loaded_phase(
    result: SosResult,
    run: _Running,
    client: httpx.AsyncClient,
    watches: list[_Watch],
    stream: _Stream,
    load_devices: int,
    bar: tqdm[Any],
) -> None:
    load = _LoadProcess(run.broker_port, result.load.target_rate, load_devices)
    await load.start()
    try:
        loaded_at = time.monotonic()
        while time.monotonic() - loaded_at < result.warmup_s:
            await asyncio.sleep(0.5)
            await load.poll()
            bar.set_postfix(phase="warming up", published=load.progress[0], refresh=True)
        stored_before = await _hub_stored(client, run.api)
        phase = asyncio.create_task(
            _run_phase(result.loaded, watches, stream, result.sample_every_s, bar)
        )
        while not phase.done():
            await asyncio.wait({phase}, timeout=1)
            await load.poll()
            published, acked = load.progress
            bar.set_postfix(phase="telemetry", published=published, acked=acked, refresh=True)
        result.window_s = phase.result()
        result.hub_stored_in_window = await _hub_stored(client, run.api) - stored_before
        result.load = await load.stop()
    finally:
        load.kill()

    started = time.monotonic()
    while time.monotonic() - started < _DRAIN_TIMEOUT_S:
        result.load_stored = await asyncio.to_thread(_stored_load, run.db_path)
        bar.set_postfix(
            phase="hub catching up",
            stored=result.load_stored,
            of=result.load.acknowledged,
            refresh=True,
        )
        if result.load_stored >= result.load.acknowledged:
            result.drain_s = time.monotonic() - started
            return
        await asyncio.sleep(0.5)


async def _hub_on_the_broker(client: httpx.AsyncClient, api: str) -> None:
    for _ in range(150):
        if (await _health(client, api)).get("mqtt_connected") is True:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the hub did not reach the broker")


async def _watches_heard(client: httpx.AsyncClient, run: _Running, watches: list[_Watch]) -> None:
    """Every watch online and heard from, and the hub done with that, first."""
    before = await _hub_stored(client, run.api)
    for chunk in range(0, len(watches), 50):
        await asyncio.gather(*(w.connect(run.watch_port) for w in watches[chunk : chunk + 50]))
    for _ in range(300):
        if await _hub_stored(client, run.api) >= before + len(watches):
            return
        await asyncio.sleep(0.1)


async def run_sos_bench(
    samples: int = 200,
    background_rate: float = 5000.0,
    *,
    sample_every_s: float = 0.15,
    warmup_s: float = 5.0,
    load_devices: int = LOAD_DEVICES,
    progress: bool = True,
) -> SosResult:
    if not 1 <= samples < 5000:  # wearers are numbered with four digits, two per sample
        raise ValueError("samples must be between 1 and 4999")
    result = SosResult(
        samples=samples,
        sample_every_s=sample_every_s,
        warmup_s=warmup_s,
        load_devices=load_devices,
        volunteer="",
        idle=Phase("hub otherwise idle", IDLE_TARGET_MS),
        loaded=Phase(
            f"background telemetry, {background_rate:,.0f} events/s offered", LOADED_TARGET_MS
        ),
        load=LoadStats(target_rate=background_rate),
    )
    watches = [_Watch(n) for n in range(2 * samples)]
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="chub-bench-sos-") as tmp:
        async with (
            _deployment(Path(tmp), len(watches)) as run,
            httpx.AsyncClient(timeout=httpx.Timeout(30, read=None)) as client,
        ):
            result.volunteer = run.volunteer
            await _hub_on_the_broker(client, run.api)
            try:
                async with _live_stream(client, run.api, run.volunteer) as stream:
                    await _watches_heard(client, run, watches)
                    await asyncio.sleep(1)

                    with tqdm(
                        total=2 * samples, unit="SOS", desc="sos", disable=not progress
                    ) as bar:
                        bar.set_postfix(phase="idle", refresh=True)
                        await _run_phase(
                            result.idle, watches[:samples], stream, sample_every_s, bar
                        )
                        await _loaded_phase(
                            result, run, client, watches[samples:], stream, load_devices, bar
                        )
                    result.stream_kinds = stream.kinds
                    result.lagged = stream.lagged
                await _breakdown(f"sqlite+aiosqlite:///{run.db_path}", [result.idle, result.loaded])
            finally:
                for watch in watches:
                    watch.close()
    result.load_average = (load_before, os.getloadavg()[0])
    return result


# -- the report -----------------------------------------------------------------------


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.1f} ms"


def _row(phase: Phase) -> str:
    verdict = "**met**" if phase.met else "**not met**"
    worst = max(phase.latencies_ms, default=math.nan)
    return (
        f"| {phase.name} | {phase.arrived} / {phase.sent} | {_ms(phase.p(50))} | "
        f"{_ms(phase.p(90))} | {_ms(phase.p(99))} | {_ms(worst)} | "
        f"p99 < {phase.target_ms:.0f} ms: {verdict} |"
    )


_SEGMENTS = (
    ("edge_reply_ms", "the edge replies to the watch (alarm in its outbox)"),
    ("to_edge_ms", "frame written → event made by the edge (`received_at`)"),
    (
        "edge_to_hub_ms",
        "edge → outbox → Mosquitto → hub, until its transaction starts (`stored_at`)",
    ),
    ("hub_to_stream_ms", "hub transaction → commit → notification → SSE → read by the client"),
)


def markdown(r: SosResult) -> str:
    load = r.load
    drain = (
        f"all {r.load_stored:,}, {r.drain_s:.1f} s after the load stopped"
        if r.drain_s is not None
        else f"{r.load_stored:,}; still behind {_DRAIN_TIMEOUT_S:.0f} s after the load stopped"
    )
    lines = [
        "## SOS latency: watch SOS frame → on-duty volunteer's live stream",
        "",
        "Mosquitto from `docker/mosquitto/mosquitto.conf`, `community-hub hub` (with the API) "
        "and `community-hub edge` as separate processes with default settings, on SQLite. "
        f"{r.samples} samples per phase, one every {r.sample_every_s * 1000:.0f} ms on a fixed "
        "schedule, each from another seeded wearer's watch (a repeated alarm of one device "
        "attaches to its open alert and notifies nobody); each watch is connected and has "
        "sent a heartbeat beforehand. Latency: from just before the AL frame is written to "
        "the edge's TCP socket until the `ticket.assigned` event for that wearer's ticket "
        "has been read from `GET /api/v1/notifications/stream` by the on-duty volunteer "
        f"(`{r.volunteer}`). Percentiles are nearest-rank: with {r.samples} samples p99 is "
        f"the {_ordinal(max(1, math.ceil(0.99 * r.samples)))} smallest. The benchmark client, "
        "the load publisher, Mosquitto, the edge and the hub share the machine's "
        f"{os.cpu_count()} cores with whatever else runs on it: its 1-minute load average "
        f"was {r.load_average[0]:.1f} before the run and {r.load_average[1]:.1f} after.",
        "",
        "| phase | arrived / sent | p50 | p90 | p99 | max | target |",
        "|---|---:|---:|---:|---:|---:|---|",
        _row(r.idle),
        _row(r.loaded),
        "",
        "Where the time goes, p50 / p99 of each part (from the stored SOS event's "
        "`received_at`, stamped by the edge, and `stored_at`, stamped by the hub when the "
        "transaction that stored it began; one clock, one machine):",
        "",
        "| part | hub otherwise idle | background telemetry |",
        "|---|---:|---:|",
    ]
    for name, label in _SEGMENTS:
        cells = [
            f"{_ms(phase.segment(name, 50))} / {_ms(phase.segment(name, 99))}"
            for phase in (r.idle, r.loaded)
        ]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    lines += [
        "",
        f"Background telemetry: LK heartbeats of {r.load_devices:,} watches, round robin, as "
        "`DeviceEvent` JSON with fresh event ids, published by a separate process (paho-mqtt, "
        f"QoS 1, at most {_LOAD_WINDOW:,} unacknowledged) straight to the broker on "
        f"`chub/v1/edge/{_LOAD_GATEWAY}/events/telemetry/...`, for {load.duration_s:.0f} s: "
        f"{r.warmup_s:.0f} s before the first loaded sample, then until the last one arrived.",
        "",
        "| background load | value |",
        "|---|---:|",
        f"| offered | {load.target_rate:,.0f} events/s"
        + (
            f" ({load.skipped:,} not sent: the publisher fell behind its schedule)"
            if load.skipped
            else ""
        )
        + " |",
        f"| published, acknowledged by the broker | {load.rate:,.0f} events/s "
        f"({load.acknowledged:,} in {load.duration_s:.1f} s) |",
        f"| stored by the hub while the loaded samples ran | {r.hub_rate_in_window:,.0f} "
        f"events/s ({r.hub_stored_in_window:,} in {r.window_s:.1f} s) |",
        f"| background events in the hub's database | {drain} (lost: "
        f"{load.acknowledged - r.load_stored:,}) |",
    ]
    if r.lagged:
        lines += ["", f"The stream reported `lagged` {r.lagged} times."]
    both = r.idle.met and r.loaded.met
    lines += [
        "",
        f"<!-- summary: 2. SOS latency p99 | idle {_ms(r.idle.p(99))}, under load "
        f"{_ms(r.loaded.p(99))} | < {r.idle.target_ms:.0f} ms idle, "
        f"< {r.loaded.target_ms:.0f} ms loaded | {'met' if both else 'not met'} -->",
    ]
    return "\n".join(lines)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# -- SOS while the API is attacked ----------------------------------------------------

ATTACK_TARGET_MS = 300.0


def attack_bodies(max_bytes: int) -> list[bytes]:
    """Bodies just under the API's limit that cost the most to take apart: a JSON object
    of as many keys as fit (the 40 MB attack had 2 million), and one long string."""
    keys: list[str] = []
    size = 2
    while size < max_bytes - 64:
        key = f'"k{len(keys)}":0'
        keys.append(key)
        size += len(key) + 1
    many_keys = ("{" + ",".join(keys) + "}").encode()
    long_string = b'{"refresh_token":"' + b"x" * (max_bytes - 64) + b'"}'
    return [many_keys, long_string]


@dataclass
class AttackRun:
    workers: str  # as HUB_API_WORKERS said
    phase: Phase
    attack_answers: Counter[int] = field(default_factory=Counter)  # status → count (0: error)
    mix: list[float] = field(default_factory=list)  # latencies of the ordinary mix, ms
    mix_errors: int = 0
    duration_s: float = 0.0
    # The machine's 1-minute load average before and after this run: it is shared.
    load_average: tuple[float, float] = (math.nan, math.nan)


async def _attacker(
    api: str, bodies: list[bytes], stop: asyncio.Event, answers: Counter[int]
) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        n = 0
        while not stop.is_set():
            body = bodies[n % len(bodies)]
            n += 1
            try:
                answer = await client.post(
                    f"{api}/api/v1/auth/refresh",
                    content=body,
                    headers={"content-type": "application/json"},
                )
                answers[answer.status_code] += 1
            except httpx.HTTPError:
                answers[0] += 1


async def _api_load(
    api: str, tokens: dict[str, str], attackers: int, clients: int, stop_when: MpEvent
) -> tuple[dict[int, int], list[float], int, float]:
    from community_hub_tools.bench.api import ENDPOINTS, EndpointStats, mix_client, mix_session

    stop = asyncio.Event()
    answers: Counter[int] = Counter()
    stats = [EndpointStats(label) for label, _r, _p in ENDPOINTS]
    bodies = attack_bodies(1024 * 1024)  # the default HUB_API_MAX_BODY_BYTES
    quiet: tqdm[Any] = tqdm(disable=True)
    started = time.monotonic()
    load = [asyncio.create_task(_attacker(api, bodies, stop, answers)) for _ in range(attackers)]
    async with mix_session(clients) as mix:
        load += [
            asyncio.create_task(
                _until_stopped(mix_client(n, mix, api, tokens, stats, started + 3600, quiet), stop)
            )
            for n in range(clients)
        ]
        await asyncio.to_thread(stop_when.wait)  # a process event: waited for off the loop
        stop.set()
        await asyncio.gather(*load, return_exceptions=True)
    latencies = [v for e in stats for v in e.latencies_ms]
    return dict(answers), latencies, sum(e.errors for e in stats), time.monotonic() - started


def _api_load_main(
    api: str,
    tokens: dict[str, str],
    attackers: int,
    clients: int,
    stop_when: MpEvent,
    pipe: Connection,
) -> None:
    """The attack and the ordinary mix, in a process of their own: the client that reads
    the volunteer's stream must not wait behind the load's own event loop."""
    pipe.send(asyncio.run(_api_load(api, tokens, attackers, clients, stop_when)))
    pipe.close()


async def _attacked_run(
    workers: str, samples: int, attackers: int, clients: int, every_s: float, bar: tqdm[Any]
) -> AttackRun:
    from community_hub_tools.bench.api import ENDPOINTS, login

    run = AttackRun(
        workers,
        Phase(
            f"{attackers} clients sending maximal bodies, {clients} the ordinary mix; "
            f"HUB_API_WORKERS={workers}",
            ATTACK_TARGET_MS,
        ),
    )
    watches = [_Watch(n) for n in range(samples)]
    with tempfile.TemporaryDirectory(prefix="chub-bench-sos-attack-") as tmp:
        async with (
            _deployment(Path(tmp), len(watches), {"HUB_API_WORKERS": workers}) as deployed,
            httpx.AsyncClient(timeout=httpx.Timeout(30, read=None)) as client,
        ):
            await _hub_on_the_broker(client, deployed.api)
            try:
                async with _live_stream(client, deployed.api, deployed.volunteer) as stream:
                    await _watches_heard(client, deployed, watches)
                    roles = sorted({role for _l, role, _p in ENDPOINTS})
                    tokens = {role: await login(client, deployed.api, role) for role in roles}
                    context = multiprocessing.get_context("spawn")
                    stop_when = context.Event()
                    receiving, sending = context.Pipe(duplex=False)
                    load = context.Process(
                        target=_api_load_main,
                        args=(deployed.api, tokens, attackers, clients, stop_when, sending),
                        daemon=True,
                    )
                    load.start()
                    sending.close()
                    try:
                        await asyncio.sleep(4)  # the attack in full swing first
                        await _run_phase(run.phase, watches, stream, every_s, bar)
                    finally:
                        stop_when.set()
                        ready = await asyncio.to_thread(receiving.poll, 120)
                        if ready:
                            answers, run.mix, run.mix_errors, run.duration_s = receiving.recv()
                            run.attack_answers.update(answers)
                        await asyncio.to_thread(load.join, 10)
                        if load.is_alive():
                            load.kill()
                await _breakdown(f"sqlite+aiosqlite:///{deployed.db_path}", [run.phase])
            finally:
                for watch in watches:
                    watch.close()
    return run


async def _until_stopped(work: Any, stop: asyncio.Event) -> None:
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, waiter):
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending


async def run_sos_attack_bench(
    samples: int = 100,
    attackers: int = 8,
    clients: int = 32,
    *,
    every_s: float = 0.15,
    workers: tuple[str, ...] = ("0", str(max(1, os.cpu_count() or 1))),
    progress: bool = True,
) -> list[AttackRun]:
    """One deployment per ``workers`` value, one after another on this machine: the API in
    the hub process ("0", as before) and in worker processes."""
    runs = []
    with tqdm(
        total=samples * len(workers), unit="SOS", desc="sos under attack", disable=not progress
    ) as bar:
        for value in workers:
            bar.set_postfix(workers=value, refresh=True)
            before = os.getloadavg()[0]
            run = await _attacked_run(value, samples, attackers, clients, every_s, bar)
            run.load_average = (before, os.getloadavg()[0])
            runs.append(run)
    return runs


def attack_markdown(runs: list[AttackRun]) -> str:
    lines = [
        "## SOS latency while the API is attacked",
        "",
        "As the SOS benchmark above (Mosquitto, `community-hub hub`, `community-hub edge`, "
        "SQLite, a watch's SOS frame until the on-duty volunteer has read `ticket.assigned` "
        "from the live stream), while 8 clients post bodies just under the 1 MB limit to "
        "`POST /api/v1/auth/refresh` as fast as they are answered (a JSON object of as many "
        "keys as fit, and one long string, in turn) and 32 clients run the ordinary mix of "
        "the API benchmark, from a process of their own (so the client reading the stream does "
        "not wait behind them). Once with the API in the hub process (`HUB_API_WORKERS=0`, as "
        "before), once in worker processes, one after the other in one session. The "
        f"machine's 1-minute load average was {runs[0].load_average[0]:.1f} before and "
        f"{runs[-1].load_average[1]:.1f} after.",
        "",
        "| API | SOS arrived / sent | p50 | p99 | max | target | attack answered | "
        "ordinary mix: req/s, p50, p99 |",
        "|---|---:|---:|---:|---:|---|---:|---|",
    ]
    for run in runs:
        phase = run.phase
        verdict = "**met**" if phase.met else "**not met**"
        answered = sum(n for code, n in run.attack_answers.items() if code)
        codes = ", ".join(
            f"{code or 'error'}: {n:,}" for code, n in sorted(run.attack_answers.items())
        )
        rate = len(run.mix) / run.duration_s if run.duration_s else 0.0
        lines.append(
            f"| HUB_API_WORKERS={run.workers} | {phase.arrived} / {phase.sent} | "
            f"{_ms(phase.p(50))} | {_ms(phase.p(99))} | "
            f"{_ms(max(phase.latencies_ms, default=math.nan))} | p99 < "
            f"{phase.target_ms:.0f} ms: {verdict} | {answered:,} ({codes}) | "
            f"{rate:,.0f} req/s, {_ms(percentile(run.mix, 50))}, {_ms(percentile(run.mix, 99))}"
            f"{f', {run.mix_errors} errors' if run.mix_errors else ''} |"
        )
    lines += [
        "",
        "Where the time goes, p50 / p99 of each part (as in the SOS benchmark):",
        "",
        "| part | " + " | ".join(f"HUB_API_WORKERS={run.workers}" for run in runs) + " |",
        "|---|" + "---:|" * len(runs),
    ]
    for name, label in _SEGMENTS:
        cells = [
            f"{_ms(run.phase.segment(name, 50))} / {_ms(run.phase.segment(name, 99))}"
            for run in runs
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if len(runs) == 2 and runs[1].phase.latencies_ms and runs[0].phase.latencies_ms:
        before, after = runs[0].phase.p(99), runs[1].phase.p(99)
        lines += ["", f"SOS p99, before / after: {before / after:,.1f}× lower with workers."]
    last = runs[-1].phase
    lines += [
        "",
        f"<!-- summary: 6. SOS p99 while the API is attacked | {_ms(last.p(99))} "
        f"(HUB_API_WORKERS={runs[-1].workers}) | < {last.target_ms:.0f} ms | "
        f"{'met' if last.met else 'not met'} -->",
    ]
    return "\n".join(lines)
