"""Three hub processes share one Mosquitto and one PostgreSQL; one is killed mid-stream.

Three `community-hub hub` processes join one shared-subscription group
(HUB_SHARED_GROUP) against a real Mosquitto and a real PostgreSQL database. A
publisher streams telemetry and SOS events from many wristbands on the edge
topics, as an edge gateway does. Mid-stream one hub gets SIGKILL and is started
again 2 s later under the same client id: Mosquitto keeps that hub's share of
the messages in its persistent session until it is back (docs/scale-out.md).

Afterwards: every published event is stored exactly once; every SOS device has
exactly one alert and one ticket; every notification in the outbox reached the
webhook receiver (a real HTTP server in this test) under its own id, at least
once (a hub killed between a delivery and marking it delivered has it sent
again by its next run, same id: docs/scale-out.md), and each ticket was told
each thing by one notification only; each escalation step of the community's
(shortened) chain fired once per ticket; and every device's state ends at its
newest event, although three hubs stored its events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from chub_mqtt.topics import event_topic
from device_adapters.kinds import KINDS
from device_adapters.model import DeviceEvent, DeviceFamily
from hub.bridge.mqtt_bridge import Incoming, MqttBridge
from hub.devices.service import register_device
from hub.policy.document import RulesDocument
from hub.policy.service import default_rules, replace_rules
from hub.schema.alerts import alerts
from hub.schema.devices import devices
from hub.schema.events import events
from hub.schema.grid import communities
from hub.schema.notifications import notification_outbox
from hub.schema.residents import residents
from hub.schema.tickets import escalations, ticket_log, tickets
from hub.schema.timers import timers
from hub.schema.users import users
from hub.settings import DatabaseSettings, MqttSettings, Settings, local_production_env
from hub.storage.db import Database
from tests.support.brokers import MosquittoProcess, MqttRecorder, free_port
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.e2e

HUBS = ("hub-a", "hub-b", "hub-c")
VICTIM = "hub-b"
GROUP = "hubs"
GATEWAY = "edge-e2e"
DEVICES = 24  # wristbands, each with its own SOS
TELEMETRY_PER_DEVICE = 120
# The community's elderly chain, shortened so that it runs out during the test.
STARTUP_S = 240
CHAIN = [{"notify": "primary", "ack_timeout_s": 5}, {"notify": "backup", "ack_timeout_s": 5}]


@dataclass
class Hooks:
    """A webhook receiver: every POST body with its delivery id."""

    port: int
    received: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    k.strip().lower(): v.strip()
                    for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.received.append((headers.get("x-hub-delivery", ""), json.loads(body)))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Hooks]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        try:
            yield self
        finally:
            server.close()


@dataclass
class Hubs:
    work: Path
    env: dict[str, str]
    procs: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)

    async def start(self, name: str) -> None:
        env = {
            **self.env,
            "HUB_HUB_CLIENT_ID": name,
            "HUB_API_PORT": str(free_port()),
            "HUB_DATA_DIR": str(self.work / name),
        }
        log = (self.work / f"{name}.log").open("a")
        self.procs[name] = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hub.cli", "hub", env=env, stdout=log, stderr=log
        )

    async def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()

    async def stop_all(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in self.procs.values():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 15)

    def tails(self, lines: int = 12) -> str:
        parts = []
        for name in HUBS:
            path = self.work / f"{name}.log"
            text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
            parts.append(f"--- {name}.log ---\n" + "\n".join(text))
        return "\n".join(parts)


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> Iterator[str]:
    with postgres_server.fresh_database(template=postgres_server.seeded_template()) as url:
        yield url


async def _prepare(db: Database) -> list[str]:
    """Shorten the chain and give each seeded elderly resident several wristbands."""
    now = datetime.now(UTC)
    async with db.write() as conn:
        community_id = (await conn.execute(sa.select(communities.c.id))).scalars().first()
        admin = (
            await conn.execute(sa.select(users.c.id).where(users.c.username == "admin"))
        ).scalar_one()
        body = default_rules().model_dump(mode="json")
        body["escalation_chains"]["elderly_urgent"] = CHAIN
        document = RulesDocument.model_validate(body)
        assert community_id is not None
        await replace_rules(
            conn, community_id, document, expected_version=None, user_id=admin, now=now
        )
        wearers = (
            await conn.execute(
                sa.select(residents.c.id, residents.c.household_id)
                .where(residents.c.is_elderly.is_(True))
                .order_by(residents.c.id)
            )
        ).all()
        device_ids = []
        for n in range(DEVICES):
            wearer = wearers[n % len(wearers)]
            device_id = f"watch:77000{n:05d}"
            await register_device(
                conn,
                device_id=device_id,
                family=DeviceFamily.WRISTBAND.value,
                protocol="watch",
                name=f"Test band {n}",
                household_id=wearer.household_id,
                resident_id=wearer.id,
            )
            device_ids.append(device_id)
    return device_ids


def _event(device_id: str, kind: str, at: datetime, steps: int) -> DeviceEvent:
    info = KINDS[kind]
    return DeviceEvent(
        event_id=uuid.uuid4(),
        device_id=device_id,
        family=DeviceFamily.WRISTBAND,
        protocol="watch",
        kind=kind,
        severity=info.severity,
        lane=info.lane,
        received_at=at,
        gateway_id=GATEWAY,
        values={"steps": steps, "battery_pct": 90 - steps % 50},
    )


def _stream(device_ids: list[str]) -> list[DeviceEvent]:
    """Round robin over the devices, each one's events 10 ms apart; one SOS each, mid-way.

    Every SOS and every tenth heartbeat is published twice, right after each
    other, as an edge republishes after a lost PUBACK: the two copies usually go
    to two different hubs at the same moment.
    """
    start = datetime.now(UTC)
    out: list[DeviceEvent] = []
    for step in range(TELEMETRY_PER_DEVICE):
        for n, device_id in enumerate(device_ids):
            at = start + timedelta(milliseconds=10 * step, microseconds=n)
            kind = "wristband.sos" if step == 40 + n else "wristband.heartbeat"
            out.append(_event(device_id, kind, at, step))
            if kind == "wristband.sos" or step % 10 == 0:
                # The edge sends again what the broker did not confirm: same event id.
                out.append(out[-1])
    return out


def _publish(port: int, stream: list[DeviceEvent], killed: threading.Event) -> None:
    """Publish at QoS 1 as the edge does, paced so that the kill lands mid-stream."""
    publisher = MqttRecorder(f"{GATEWAY}-publisher")
    publisher.connect("127.0.0.1", port)
    try:
        chunk = 200
        for start in range(0, len(stream), chunk):
            part = stream[start : start + chunk]
            for event in part:
                topic = event_topic(GATEWAY, event.lane, event.device_id)
                publisher.client.publish(topic, event.model_dump_json().encode(), qos=1)
            if start > len(stream) // 3 and not killed.is_set():
                killed.wait(10)  # hold on until the hub is dead, then stream on
            time.sleep(0.05)
        publisher.publish_many("chub/v1/test/end", [b"end"], qos=1)  # all earlier ones acked
    finally:
        publisher.close()


async def _wait_for(check: object, timeout_s: float, what: str, hubs: Hubs) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout_s}s\n{hubs.tails()}")
        await asyncio.sleep(0.5)


async def test_three_hubs_one_killed_nothing_lost_nothing_twice(
    mosquitto: MosquittoProcess, database_url: str, tmp_path: Path
) -> None:
    db = Database.open(database_url)
    try:
        device_ids = await _prepare(db)
        stream = _stream(device_ids)
        sos_devices = {e.device_id for e in stream if e.kind == "wristband.sos"}
        assert len(sos_devices) == DEVICES
        hooks = Hooks(free_port())
        env = {
            **os.environ,
            **local_production_env(),  # `community-hub hub` runs in production only
            "HUB_DATABASE_URL": database_url,
            "HUB_SHARED_GROUP": GROUP,
            "HUB_MQTT_PORT": str(mosquitto.port),
            "HUB_WEBHOOK_URLS": f"http://127.0.0.1:{hooks.port}/hook",
            "HUB_INGEST_BATCH_SIZE": "50",
        }
        hubs = Hubs(tmp_path, env)
        async with hooks.running():
            try:
                await _run(db, hubs, mosquitto, stream, sos_devices, hooks)
            finally:
                await hubs.stop_all()
    finally:
        await db.close()


async def _connected_hubs(mosquitto: MosquittoProcess) -> set[str]:
    watcher = MqttRecorder(f"watcher-{uuid.uuid4().hex[:6]}")
    await asyncio.to_thread(watcher.connect, "127.0.0.1", mosquitto.port)
    try:
        await asyncio.to_thread(watcher.subscribe, "chub/v1/hub/+/status")
        await asyncio.to_thread(watcher.settle, 0.5, 3.0)
        return {m.topic.split("/")[3] for m in watcher.messages if bytes(m.payload) == b"online"}
    finally:
        await asyncio.to_thread(watcher.close)


async def _run(
    db: Database,
    hubs: Hubs,
    mosquitto: MosquittoProcess,
    stream: list[DeviceEvent],
    sos_devices: set[str],
    hooks: Hooks,
) -> None:
    for name in HUBS:
        await hubs.start(name)

    async def all_online() -> bool:
        return set(HUBS) <= await _connected_hubs(mosquitto)

    # Readiness, not speed: twelve processes (three hubs, their receivers and API workers)
    # start at once, and on a loaded 2-core machine that has taken over a minute.
    await _wait_for(all_online, STARTUP_S, "all three hubs on the broker", hubs)
    await asyncio.sleep(1)  # the alarm connections subscribe right beside the main ones

    async def stored_count() -> int:
        async with db.read() as conn:
            return int(
                (await conn.execute(sa.select(sa.func.count()).select_from(events))).scalar_one()
            )

    killed = threading.Event()
    publishing = asyncio.create_task(asyncio.to_thread(_publish, mosquitto.port, stream, killed))

    async def under_way() -> bool:
        return await stored_count() >= len(stream) // 4

    await _wait_for(under_way, 60, "a quarter of the stream stored", hubs)
    await hubs.kill(VICTIM)  # SIGKILL mid-stream, with its share in flight
    killed.set()
    await asyncio.sleep(2)
    await hubs.start(VICTIM)  # same client id: its persistent sessions hand it the rest
    await publishing

    unique = len({e.event_id for e in stream})

    async def all_stored() -> bool:
        return await stored_count() >= unique

    await _wait_for(all_stored, 120, f"all {unique} events stored", hubs)

    async def chains_done() -> bool:
        async with db.read() as conn:
            open_chains = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(escalations)
                    .where(escalations.c.status == "active")
                )
            ).scalar_one()
            total = (
                await conn.execute(sa.select(sa.func.count()).select_from(escalations))
            ).scalar_one()
        return int(total) >= len(sos_devices) and int(open_chains) == 0

    await _wait_for(chains_done, 90, "every escalation chain ran out", hubs)

    async def outbox_delivered() -> bool:
        async with db.read() as conn:
            waiting = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(notification_outbox)
                    .where(notification_outbox.c.delivered_at.is_(None))
                )
            ).scalar_one()
        return int(waiting) == 0

    await _wait_for(outbox_delivered, 60, "every notification delivered", hubs)
    await asyncio.sleep(0.5)  # a POST that raced its mark has arrived by now

    async with db.read() as conn:
        stored = Counter(r.event_id for r in await conn.execute(sa.select(events.c.event_id)))
        sos_alerts = (
            await conn.execute(
                sa.select(alerts.c.id, alerts.c.device_id).where(alerts.c.kind == "wristband.sos")
            )
        ).all()
        sos_tickets = (
            await conn.execute(
                sa.select(tickets.c.id, tickets.c.alert_id).where(
                    tickets.c.alert_id.in_([a.id for a in sos_alerts])
                )
            )
        ).all()
        escalated = Counter(
            r.ticket_id
            for r in await conn.execute(
                sa.select(ticket_log.c.ticket_id).where(ticket_log.c.action == "escalated")
            )
        )
        fired = (
            await conn.execute(
                sa.select(timers.c.key, timers.c.fired_by).where(timers.c.fired_at.is_not(None))
            )
        ).all()
        states = {
            r.id: r.state
            for r in await conn.execute(
                sa.select(devices.c.id, devices.c.state).where(devices.c.id.in_(sos_devices))
            )
        }
        stored_notes = (
            await conn.execute(
                sa.select(
                    notification_outbox.c.notification_id,
                    notification_outbox.c.payload,
                    notification_outbox.c.attempts,
                )
            )
        ).all()

    # Every published event stored exactly once (the primary key makes "twice" impossible
    # in the table; the count makes "lost" visible).
    published = {e.event_id for e in stream}
    assert len(published) < len(stream), "the stream carries republished copies"
    assert set(stored) == published, f"{len(published - set(stored))} events lost"
    # One alert and one ticket per SOS device.
    assert sorted(a.device_id for a in sos_alerts) == sorted(sos_devices)
    assert len(sos_tickets) == len(sos_alerts)
    ticket_ids = {t.id for t in sos_tickets}
    # Each escalation step once per ticket: the chain has one step after the first.
    assert {t: escalated[t] for t in ticket_ids} == {t: len(CHAIN) - 1 for t in ticket_ids}
    esc_keys = [key for key, _ in fired if key.startswith("esc:")]
    assert len(esc_keys) == len(set(esc_keys))
    # Webhooks, by notification id (X-Hub-Delivery, the body's id): every notification
    # stored in the outbox arrived, at least once.
    assert all(d == body.get("id") for d, body in hooks.received), "X-Hub-Delivery is the id"
    deliveries = Counter(d for d, _ in hooks.received)
    outbox_ids = {r.notification_id for r in stored_notes}
    missing = outbox_ids - set(deliveries)
    assert not missing, f"{len(missing)} of {len(outbox_ids)} notifications never arrived"
    assert set(deliveries) <= outbox_ids, "a webhook for a notification never stored"
    # The same id twice only where a row was claimed again (the killed hub's); without a
    # crash each is sent once.
    attempts = {r.notification_id: r.attempts for r in stored_notes}
    again = {d: n for d, n in deliveries.items() if n > 1}
    assert all(attempts[d] > 1 for d in again), f"sent twice without a second claim: {again}"
    # Every SOS ticket's notifications arrived; each ticket was told each thing by ONE
    # notification (distinct ids): no hub raised an alert, ticket or step twice.
    sos_notes = {
        r.notification_id: r.payload
        for r in stored_notes
        if r.payload.get("ticket_id") in ticket_ids
    }
    assert {p["ticket_id"] for p in sos_notes.values()} == ticket_ids, "a ticket never notified"
    assert all(d in deliveries for d in sos_notes)
    notices = Counter(
        (p["ticket_id"], p["kind"], json.dumps(p["recipients"], sort_keys=True))
        for p in sos_notes.values()
    )
    twice = {k: n for k, n in notices.items() if n > 1}
    assert not twice, f"notified more than once: {twice}"
    print(
        f"\nwebhooks: {len(deliveries)} distinct notification ids of {len(outbox_ids)} stored, "
        f"{len(hooks.received)} POSTs, {len(again)} ids sent again after the kill"
    )
    # The victim came back into its persistent sessions (its share had waited there).
    victim_log = (hubs.work / f"{VICTIM}.log").read_text(errors="replace")
    assert "session resumed: True" in victim_log
    # Device state moved only forward: it ends at each device's newest event.
    newest: dict[str, datetime] = {}
    for e in stream:
        if KINDS[e.kind].silent:
            continue
        newest[e.device_id] = max(newest.get(e.device_id, e.received_at), e.received_at)
    for device_id, state in states.items():
        assert datetime.fromisoformat(state["last_event_at"]) == newest[device_id], device_id


async def _drain(bridge: MqttBridge, quiet_s: float = 1.0) -> list[Incoming]:
    """Everything the bridge hands out until it has been quiet for ``quiet_s``; acked."""
    got: list[Incoming] = []
    while True:
        try:
            batch = await asyncio.wait_for(bridge.next_batch(500, 0.0), quiet_s)
        except TimeoutError:
            return got
        bridge.ack(batch)
        got += batch


async def test_a_shared_group_shares_telemetry_and_hands_every_alarm_to_every_hub(
    mosquitto: MosquittoProcess,
) -> None:
    def settings(client_id: str) -> Settings:
        # A group requires PostgreSQL; this test never opens the database.
        return Settings(
            mqtt=MqttSettings(port=mosquitto.port, client_id=client_id, shared_group=GROUP),
            database=DatabaseSettings(url="postgresql+asyncpg://unused@127.0.0.1/unused"),
        )

    bridges = [MqttBridge(settings(f"share-{n}")) for n in range(2)]
    for bridge in bridges:
        await bridge.start()
    try:
        for bridge in bridges:
            assert await bridge.wait_connected(STARTUP_S)
        await asyncio.sleep(0.5)  # SUBACKs
        now = datetime.now(UTC)
        stream = [_event(f"watch:7800{n:06d}", "wristband.heartbeat", now, n) for n in range(60)]
        stream += [_event(f"watch:7900{n:06d}", "wristband.sos", now, n) for n in range(10)]
        await asyncio.to_thread(_publish, mosquitto.port, stream, threading.Event())
        shares = [await _drain(bridge) for bridge in bridges]
    finally:
        for bridge in bridges:
            await bridge.stop()

    def ids(share: list[Incoming], session: str) -> list[str]:
        got = [i for i in share if i.session == session]
        return [str(DeviceEvent.model_validate_json(i.payload).event_id) for i in got]

    telemetry = [str(e.event_id) for e in stream if e.kind == "wristband.heartbeat"]
    alarms = sorted(str(e.event_id) for e in stream if e.kind == "wristband.sos")
    shared = [i for s in shares for i in ids(s, "main")]
    assert sorted(shared) == sorted(telemetry), "each heartbeat to exactly one hub"
    assert all(ids(s, "main") for s in shares), "both hubs got a share of telemetry"
    # Alarms are not shared: a dead hub's share would wait for it to restart.
    assert [sorted(ids(s, "alarms")) for s in shares] == [alarms, alarms]
