"""The durable outbox with real SQLite files, a real MqttUplink and a real Mosquitto.

Every test counts what reaches a subscriber on the broker: after dedup by
event_id, every acknowledged event arrives exactly once, in order per device.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from chub_mqtt.topics import dead_letter_topic
from device_adapters.kinds import kind_info
from device_adapters.model import DeadLetter, DeviceEvent, DeviceFamily, Lane
from edge.outbox import ROW_OVERHEAD, Outbox
from edge.settings import EdgeSettings
from edge.uplink import MqttUplink
from tests.support.brokers import MosquittoProcess, MqttRecorder

REPO_ROOT = Path(__file__).resolve().parents[2]
GW = "gw-outbox-test"
HEARTBEAT = "wristband.heartbeat"
POSITION = "wristband.position"
SOS = "wristband.sos"


def make_event(device_id: str, n: int, kind: str = HEARTBEAT) -> DeviceEvent:
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
        values={"n": n, "battery_pct": 80},
        raw=b"[3G*4700000000*0002*LK]" * 8,
    )


def make_dead_letter(i: int) -> DeadLetter:
    return DeadLetter(
        dead_letter_id=uuid4(),
        gateway_id=GW,
        source="watch-tcp 127.0.0.1:1",
        protocol="watch",
        received_at=datetime.now(UTC),
        reason=f"garbage {i}",
        raw=b"\x00\xff",
    )


def make_settings(broker: MosquittoProcess, tmp_path: Path, **overrides: object) -> EdgeSettings:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "edge_outbox_path": tmp_path / "outbox.sqlite3",
        "mqtt_host": broker.host,
        "mqtt_port": broker.port,
        "gateway_id": GW,
        "edge_publish_timeout_s": 1.0,
    }
    values.update(overrides)
    return EdgeSettings.model_validate(values)


async def wait_until(predicate: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        assert time.monotonic() < deadline, f"not within {within_s}s: {what}"
        await asyncio.sleep(0.02)


def file_rows(path: Path) -> list[sqlite3.Row]:
    """The outbox table as another connection sees it: only committed rows."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM outbox ORDER BY seq").fetchall()


def arrivals(rec: MqttRecorder) -> list[DeviceEvent]:
    """Events on the broker in arrival order, first copy of each event_id only."""
    seen: set[UUID] = set()
    out: list[DeviceEvent] = []
    for message in list(rec.messages):
        if "/events/" not in message.topic:
            continue
        event = DeviceEvent.model_validate_json(message.payload)
        if event.event_id not in seen:
            seen.add(event.event_id)
            out.append(event)
    return out


def order_per_device(events: list[DeviceEvent], kind: str | None = None) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for e in events:
        if kind is None or e.kind == kind:
            n = e.values["n"]
            assert isinstance(n, int)
            out[e.device_id].append(n)
    return dict(out)


@pytest.fixture
def recorder(mosquitto: MosquittoProcess) -> Iterator[MqttRecorder]:
    # A persistent session: what is published while it reconnects after a broker
    # restart is queued for it, so the count is of what the broker accepted.
    rec = MqttRecorder(f"test-outbox-rec-{uuid4().hex[:8]}", clean_session=False)
    rec.connect(mosquitto.host, mosquitto.port)
    rec.subscribe(f"chub/v1/edge/{GW}/#", qos=1)
    try:
        yield rec
    finally:
        rec.close()


@dataclass
class Edge:
    uplink: MqttUplink
    outbox: Outbox


@contextlib.asynccontextmanager
async def running_edge(
    settings: EdgeSettings, *, forward: bool = True, connected: bool = True
) -> AsyncIterator[Edge]:
    uplink = MqttUplink(settings)
    outbox = Outbox(settings, uplink, end_to_end=False)
    await outbox.open()
    await uplink.start()
    try:
        if connected:
            async with asyncio.timeout(10):
                await uplink.wait_connected()
        if forward:
            await outbox.start()
        yield Edge(uplink, outbox)
    finally:
        await outbox.stop()
        await uplink.stop()


async def stop_broker(broker: MosquittoProcess, uplink: MqttUplink) -> None:
    await asyncio.to_thread(broker.stop)
    await wait_until(lambda: not uplink.connected, 10, "uplink saw the outage")


# -- stored before acknowledged, then forwarded and deleted -----------------------------


async def test_publish_returns_after_commit_then_arrives_and_row_is_deleted(
    mosquitto: MosquittoProcess, recorder: MqttRecorder, tmp_path: Path
) -> None:
    settings = make_settings(mosquitto, tmp_path)
    async with running_edge(settings, forward=False) as edge:
        sos = make_event("watch:4700000001", 0, SOS)
        await edge.outbox.publish_event(sos)
        # Another connection sees the row: it was committed before the call returned.
        [row] = file_rows(settings.resolved_outbox_path)
        assert (row["lane"], row["device_id"], row["kind"]) == ("alarm", sos.device_id, "event")
        assert DeviceEvent.model_validate_json(row["payload"]) == sos
        assert row["size"] == len(row["payload"]) + ROW_OVERHEAD

        # Many concurrent callers (group commit): each sees its own row on return.
        events = [make_event(f"watch:47000000{i % 4:02d}", i) for i in range(40)]

        async def store_and_check(e: DeviceEvent) -> bool:
            await edge.outbox.publish_event(e)
            payloads = [r["payload"] for r in file_rows(settings.resolved_outbox_path)]
            return any(str(e.event_id) in p for p in payloads)

        assert all(await asyncio.gather(*(store_and_check(e) for e in events)))
        assert edge.outbox.stats.stored == 41
        assert edge.outbox.stats.backlog == 41
        assert edge.outbox.stats.backlog_alarms == 1
        assert not arrivals(recorder), "nothing forwarded before start()"

        await edge.outbox.start()
        await wait_until(lambda: len(arrivals(recorder)) >= 41, 10, "all 41 arrived")
        got = arrivals(recorder)
        assert {e.event_id for e in got} == {sos.event_id} | {e.event_id for e in events}
        assert got[0] == sos  # alarms first
        await wait_until(
            lambda: not file_rows(settings.resolved_outbox_path), 5, "rows deleted after PUBACK"
        )
        stats = edge.outbox.stats
        assert (stats.forwarded, stats.backlog, stats.in_flight) == (41, 0, 0)
        assert (await edge.outbox.backlog()).items == 0


# -- uplink outage ---------------------------------------------------------------------


async def test_broker_outage_stores_quickly_then_everything_arrives_in_order(
    mosquitto: MosquittoProcess, recorder: MqttRecorder, tmp_path: Path
) -> None:
    settings = make_settings(mosquitto, tmp_path)
    devices = [f"watch:47000001{d:02d}" for d in range(4)]
    sent = [make_event(devices[i % 4], i // 4) for i in range(200)]
    async with running_edge(settings) as edge:
        await stop_broker(mosquitto, edge.uplink)
        started = time.monotonic()
        for e in sent:
            async with asyncio.timeout(1):  # stored, not waiting for the broker
                await edge.outbox.publish_event(e)
        assert time.monotonic() - started < 5
        assert edge.outbox.stats.backlog == 200

        await asyncio.sleep(2.5)  # forwarding fails meanwhile: retried, never dropped
        stats = edge.outbox.stats
        assert stats.forward_failures > 0
        assert stats.backlog == 200 and stats.forwarded == 0
        assert stats.oldest_age_s is not None and stats.oldest_age_s >= 2.0
        assert len(file_rows(settings.resolved_outbox_path)) == 200

        await asyncio.to_thread(mosquitto.start)
        await wait_until(lambda: len(arrivals(recorder)) >= 200, 30, "all 200 arrived")
        await wait_until(lambda: edge.outbox.stats.backlog == 0, 5, "backlog drained")

    got = arrivals(recorder)
    assert sorted(str(e.event_id) for e in got) == sorted(str(e.event_id) for e in sent)
    assert order_per_device(got) == {d: list(range(50)) for d in devices}
    assert not file_rows(settings.resolved_outbox_path)


# -- no subscriber yet ------------------------------------------------------------------


async def test_events_wait_in_the_file_until_the_hub_has_subscribed(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    # A broker the hub has never connected to (first start, or its data lost)
    # acknowledges every publish and drops it: nobody is subscribed. The outbox
    # must not take that PUBACK for delivery; it keeps the rows until the hub's
    # persistent session exists, then forwards all of them, in order.
    settings = make_settings(mosquitto, tmp_path)
    devices = [f"watch:47000009{d:02d}" for d in range(4)]
    sent = [make_event(devices[i % 4], i // 4) for i in range(200)]
    sos = make_event("watch:4700000999", 1000, SOS)
    dl = make_dead_letter(9)
    async with running_edge(settings) as edge:
        for e in sent:
            await edge.outbox.publish_event(e)
        await edge.outbox.publish_event(sos)
        await edge.outbox.publish_dead_letter(dl)

        await asyncio.sleep(2.0)  # connected, forwarding, and nobody takes anything
        stats = edge.outbox.stats
        assert stats.forward_failures > 0
        assert stats.forwarded == 0 and stats.backlog == 202
        assert len(file_rows(settings.resolved_outbox_path)) == 202

        # The hub connects for the first time: its session subscribes and stays.
        hub = MqttRecorder(f"test-outbox-hub-{uuid4().hex[:8]}", clean_session=False)
        await asyncio.to_thread(hub.connect, mosquitto.host, mosquitto.port)
        try:
            await asyncio.to_thread(hub.subscribe, f"chub/v1/edge/{GW}/#", 1)
            await wait_until(lambda: len(arrivals(hub)) >= 201, 30, "all 201 events arrived")
            await wait_until(lambda: edge.outbox.stats.backlog == 0, 10, "backlog drained")
        finally:
            await asyncio.to_thread(hub.close)

    got = arrivals(hub)
    assert {e.event_id for e in got} == {e.event_id for e in [*sent, sos]}
    assert order_per_device(got, HEARTBEAT) == {d: list(range(50)) for d in devices}
    dls = [m for m in list(hub.messages) if m.topic == dead_letter_topic(GW)]
    assert {DeadLetter.model_validate_json(m.payload) for m in dls} == {dl}
    assert not file_rows(settings.resolved_outbox_path)


# -- restart -----------------------------------------------------------------------------


async def test_restart_with_a_backlog_forwards_it_when_the_broker_returns(
    mosquitto: MosquittoProcess, recorder: MqttRecorder, tmp_path: Path
) -> None:
    settings = make_settings(mosquitto, tmp_path)
    await asyncio.to_thread(mosquitto.stop)
    sent = [make_event(f"watch:47000002{i % 2:02d}", i // 2) for i in range(60)]
    sos = make_event("watch:4700000200", 1000, SOS)
    dl = make_dead_letter(1)
    # First run: the broker is down the whole time.
    async with running_edge(settings, connected=False) as edge:
        for e in sent:
            await edge.outbox.publish_event(e)
        await edge.outbox.publish_event(sos)
        await edge.outbox.publish_dead_letter(dl)
    assert len(file_rows(settings.resolved_outbox_path)) == 62

    # Second run on the same file: it picks up where the first left off.
    uplink = MqttUplink(settings)
    outbox = Outbox(settings, uplink, end_to_end=False)
    try:
        await outbox.open()
        assert outbox.stats.backlog == 62
        backlog = await outbox.backlog()
        assert (backlog.items, backlog.alarms, backlog.dead_letters) == (62, 1, 1)
        await uplink.start()
        await outbox.start()
        await asyncio.to_thread(mosquitto.start)
        await wait_until(lambda: len(arrivals(recorder)) >= 61, 30, "backlog arrived")
        await wait_until(lambda: outbox.stats.backlog == 0, 10, "backlog drained")
    finally:
        await outbox.stop()
        await uplink.stop()

    got = arrivals(recorder)
    assert {e.event_id for e in got} == {e.event_id for e in [*sent, sos]}
    assert order_per_device(got, HEARTBEAT) == {
        "watch:4700000200": list(range(30)),
        "watch:4700000201": list(range(30)),
    }
    dls = [m for m in list(recorder.messages) if m.topic == dead_letter_topic(GW)]
    assert {DeadLetter.model_validate_json(m.payload) for m in dls} == {dl}
    assert not file_rows(settings.resolved_outbox_path)


# -- alarms first --------------------------------------------------------------------------


async def test_alarm_overtakes_a_telemetry_backlog(
    mosquitto: MosquittoProcess, recorder: MqttRecorder, tmp_path: Path
) -> None:
    window = 5
    settings = make_settings(mosquitto, tmp_path, edge_max_in_flight=window)
    telemetry = [make_event("watch:4700000300", n) for n in range(300)]
    sos = make_event("watch:4700000300", 0, SOS)
    async with running_edge(settings) as edge:
        await stop_broker(mosquitto, edge.uplink)
        for e in telemetry:
            await edge.outbox.publish_event(e)
        await asyncio.sleep(0.3)
        await edge.outbox.publish_event(sos)

        peak = 0

        async def sample() -> None:
            nonlocal peak
            while True:
                peak = max(peak, edge.outbox.stats.in_flight)
                await asyncio.sleep(0.001)

        sampler = asyncio.create_task(sample())
        try:
            await asyncio.to_thread(mosquitto.start)
            await wait_until(lambda: len(arrivals(recorder)) >= 301, 30, "all arrived")
        finally:
            sampler.cancel()

    got = arrivals(recorder)
    position = next(i for i, e in enumerate(got) if e.kind == SOS)
    # Only what was already in the uplink's window can be ahead of the alarm.
    assert position <= window, f"alarm arrived {position}th"
    assert order_per_device(got, HEARTBEAT) == {"watch:4700000300": list(range(300))}
    assert 1 <= peak <= window


# -- disk bound ------------------------------------------------------------------------------


async def test_disk_bound_thins_old_telemetry_and_keeps_every_alarm(
    mosquitto: MosquittoProcess, recorder: MqttRecorder, tmp_path: Path
) -> None:
    max_bytes = 40_000
    settings = make_settings(mosquitto, tmp_path, edge_outbox_max_bytes=max_bytes)
    devices = [f"watch:47000004{d:02d}" for d in range(4)]
    telemetry: list[DeviceEvent] = []
    alarms: list[DeviceEvent] = []
    dead_letters = [make_dead_letter(i) for i in range(3)]
    async with running_edge(settings, forward=False) as edge:
        for n in range(100):
            for d in devices:
                for kind in (HEARTBEAT, POSITION):
                    telemetry.append(make_event(d, n, kind))
                    await edge.outbox.publish_event(telemetry[-1])
            if n % 5 == 0:
                alarms.append(make_event(devices[n % 4], n, SOS))
                await edge.outbox.publish_event(alarms[-1])
            if n % 40 == 0:
                await edge.outbox.publish_dead_letter(dead_letters[n // 40])

        stats = edge.outbox.stats
        rows = file_rows(settings.resolved_outbox_path)
        kept = [r for r in rows if r["kind"] == "event" and r["lane"] == "telemetry"]
        assert stats.thinned > 0
        assert stats.thinned == len(telemetry) - len(kept)
        assert sum(r["size"] for r in rows) == stats.backlog_bytes <= max_bytes
        assert not stats.over_budget
        # Every alarm and dead letter is still there, and each device's newest of each kind.
        assert sum(r["lane"] == "alarm" for r in rows) == len(alarms) == 20
        assert sum(r["kind"] == "dead_letter" for r in rows) == 3
        newest = {(r["device_id"], r["event_kind"]) for r in kept}
        assert newest == {(d, k) for d in devices for k in (HEARTBEAT, POSITION)}
        for d in devices:
            kept_n = [
                DeviceEvent.model_validate_json(r["payload"]).values["n"]
                for r in kept
                if r["device_id"] == d and r["event_kind"] == HEARTBEAT
            ]
            assert kept_n[-1] == 99

        await edge.outbox.start()
        await wait_until(lambda: edge.outbox.stats.backlog == 0, 15, "drained")
        await asyncio.to_thread(recorder.settle, 0.3)

    got = arrivals(recorder)
    assert {e.event_id for e in got if e.lane is Lane.ALARM} == {e.event_id for e in alarms}
    assert len([e for e in got if e.lane is Lane.TELEMETRY]) == len(kept)
    for d, ns in order_per_device(got, HEARTBEAT).items():
        assert ns == sorted(ns) and ns[-1] == 99, d
    dls = [m for m in list(recorder.messages) if m.topic == dead_letter_topic(GW)]
    assert {DeadLetter.model_validate_json(m.payload) for m in dls} == set(dead_letters)


async def test_an_outbox_full_of_alarms_still_stores_alarms(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    settings = make_settings(mosquitto, tmp_path, edge_outbox_max_bytes=4096)
    async with running_edge(settings, forward=False, connected=False) as edge:
        for n in range(30):
            await edge.outbox.publish_event(make_event("watch:4700000500", n, SOS))
            await edge.outbox.publish_event(make_event("watch:4700000500", n))
        stats = edge.outbox.stats
        assert stats.over_budget and stats.backlog_bytes > 4096
        assert stats.backlog_alarms == 30
        # Only the newest heartbeat survives next to the alarms.
        assert stats.backlog == 31 and stats.thinned == 29


# -- kill -9 -----------------------------------------------------------------------------------


async def test_kill_9_mid_stream_loses_no_acknowledged_event(
    mosquitto: MosquittoProcess, recorder: MqttRecorder, tmp_path: Path
) -> None:
    db = tmp_path / "child-outbox.sqlite3"
    devices, count = 5, 6000
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.edge.outbox_child",
        str(db),
        mosquitto.host,
        str(mosquitto.port),
        GW,
        str(count),
        str(devices),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    acked: dict[UUID, tuple[str, int]] = {}
    try:
        async with asyncio.timeout(20):
            while len(acked) < count // 4:
                line = (await child.stdout.readline()).decode()
                assert line, "child exited early"
                if line.startswith("ACK "):
                    _, event_id, device_id, n = line.split()
                    acked[UUID(event_id)] = (device_id, int(n))
    finally:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGKILL)
        rest = await child.stdout.read()
        await child.wait()
    assert child.returncode == -signal.SIGKILL
    for line in rest.decode().splitlines(keepends=True):
        if line.startswith("ACK ") and line.endswith("\n"):
            _, event_id, device_id, n = line.split()
            acked[UUID(event_id)] = (device_id, int(n))
    assert b"DONE" not in rest, "the child finished before it was killed"

    # A new edge on the same file forwards what the dead one had not.
    settings = make_settings(mosquitto, tmp_path, edge_outbox_path=db)
    async with running_edge(settings, forward=False) as edge:
        left = (await edge.outbox.backlog()).items
        assert left > 0, "the child had forwarded everything: nothing left to test"
        await edge.outbox.start()
        await wait_until(lambda: edge.outbox.stats.backlog == 0, 30, "backlog drained")
        await asyncio.to_thread(recorder.settle, 0.3)

    got = arrivals(recorder)
    got_ids = {e.event_id for e in got}
    missing = set(acked) - got_ids
    assert not missing, f"{len(missing)} acknowledged events lost"
    # In order per device, with no gap: the stored events are a prefix of what was sent.
    for device_id, ns in order_per_device(got).items():
        assert ns == list(range(len(ns))), device_id
    assert len(got) >= len(acked)
