"""The alarm path against the faults of the security review, as deployed.

`community-hub hub` and `community-hub edge` run as their own processes, in
production mode, on a real Mosquitto with the shipped configuration, ACL and
password file (tests/support/secured_broker.py). Watches speak the Watch
protocol over TCP to the edge and count what the edge acknowledged to them.

- Lost: the hub is down, watches send SOS and heartbeats and are told each was
  received, the broker is killed with SIGKILL, then broker and hub come back.
  Every acknowledged event must be stored exactly once, with the broker keeping
  nothing on disk and with the shipped persistence (30 s autosave): the edge's
  outbox keeps each event until the hub confirms it committed it.
- Forged: a lock bridge's broker account publishes an SOS for a resident's
  watch and a command result: nothing of it reaches the hub's store.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from chub_mqtt.topics import event_topic
from device_adapters.kinds import KINDS
from device_adapters.model import DeviceEvent, DeviceFamily
from device_adapters.watch import encode_frame
from tests.support.brokers import free_port
from tests.support.secured_broker import MissingMosquitto, SecuredBroker

pytestmark = pytest.mark.e2e

BRIDGE_PASSWORD = secrets.token_urlsafe(24)
SOS_WATCHES = ("8960000001", "8960000002", "8960000003")
HEARTBEAT_WATCH = "8960000009"
# An SOS as a real watch sends it (PROTOCOLS.md 1a): status bit 16 set, no GPS fix.
AL_CONTENT = (
    "AL,071226,094744,V,00.000000,N,0.0000000,E,0.00,0.0,0.0,0,100,81,0,0,00010000,"
    "1,0,460,0,9336,3981,141,0,0.0"
)


@dataclass
class Site:
    broker: SecuredBroker
    work: Path
    env: dict[str, str]
    watch_port: int
    procs: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)

    async def start(self, role: str) -> None:
        log = (self.work / f"{role}.log").open("a")
        env = {**self.env, **ROLE_ENV[role](self)}
        self.procs[role] = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hub.cli", role, env=env, stdout=log, stderr=log
        )

    async def kill(self, role: str) -> None:
        proc = self.procs.pop(role)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()

    async def stop_all(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in self.procs.values():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 15)

    def log(self, role: str, lines: int = 25) -> str:
        path = self.work / f"{role}.log"
        text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
        return f"--- {role}.log ---\n" + "\n".join(text)

    def stored(self, kind: str) -> list[str]:
        """Device ids of the stored events of ``kind``, one entry per stored row."""
        db = self.work / "data" / "hub.sqlite3"
        if not db.exists():
            return []
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as c:
            try:
                rows = c.execute("SELECT device_id FROM events WHERE kind = ?", (kind,))
                return [r[0] for r in rows]
            except sqlite3.OperationalError:
                return []

    def outbox(self, where: str) -> int:
        path = self.work / "data" / "edge-outbox.sqlite3"
        if not path.exists():
            return 0
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as c:
            try:
                return int(c.execute(f"SELECT COUNT(*) FROM outbox WHERE {where}").fetchone()[0])
            except sqlite3.OperationalError:
                return 0


ROLE_ENV = {
    "hub": lambda site: {
        "HUB_MQTT_USERNAME": "hub",
        "HUB_MQTT_PASSWORD": site.broker.passwords["HUB_MQTT_PASSWORD"],
    },
    "edge": lambda site: {
        "HUB_MQTT_USERNAME": "edge-1",
        "HUB_MQTT_PASSWORD": site.broker.passwords["EDGE_MQTT_PASSWORD"],
    },
}


async def _until(predicate: object, timeout_s: float, what: str, site: Site) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    assert callable(predicate)
    while not predicate():
        assert loop.time() < deadline, f"not within {timeout_s}s: {what}\n{site.log('hub')}\n" + (
            site.log("edge")
        )
        await asyncio.sleep(0.25)


@contextlib.asynccontextmanager
async def running_site(tmp_path: Path, *, persistence: bool) -> AsyncIterator[Site]:
    try:
        broker = SecuredBroker(
            tmp_path / "broker",
            extra_users={"zigbee2mqtt": BRIDGE_PASSWORD},
            persistence=persistence,
        )
    except MissingMosquitto:
        if os.environ.get("CI", "").lower() == "true":
            raise
        pytest.skip("Mosquitto (with mosquitto_passwd) is not installed")
    broker.start()
    watch_port = free_port()
    env = {
        **os.environ,
        "HUB_MODE": "production",
        "HUB_JWT_SECRET": secrets.token_urlsafe(48),
        "HUB_DATA_DIR": str(tmp_path / "data"),
        "HUB_MQTT_HOST": "127.0.0.1",
        "HUB_MQTT_PORT": str(broker.port),
        "HUB_API_PORT": str(free_port()),
        "HUB_GATEWAY_ID": "edge-1",
        "HUB_EDGE_PORTS": f"watch={watch_port}",
        "HUB_EDGE_SERVERS": "watch",
        "HUB_EDGE_HOST": "127.0.0.1",
        "HUB_EDGE_PUBLISH_TIMEOUT_S": "3",
        # Short, so the test need not wait the default minute before a resend.
        "HUB_EDGE_RESEND_AFTER_S": "3",
    }
    site = Site(broker, tmp_path, env, watch_port)
    try:
        yield site
    finally:
        await site.stop_all()
        broker.stop()


async def _send(port: int, native_id: str, content: str, reply: bytes) -> None:
    """One frame over a fresh connection; returns once the edge's reply arrived."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(encode_frame("3G", native_id, content))
        await writer.drain()
        async with asyncio.timeout(30):
            got = await reader.readexactly(len(reply))
        assert got == reply
    finally:
        writer.close()


async def _acknowledged(site: Site, native_id: str, content: str, reply: bytes) -> None:
    """Send until the edge acknowledges (it may still be starting)."""
    for _ in range(120):
        try:
            await _send(site.watch_port, native_id, content, reply)
            return
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            await asyncio.sleep(0.25)
    raise AssertionError(f"the edge never acknowledged {native_id}\n{site.log('edge')}")


@pytest.mark.parametrize("persistence", [False, True], ids=["broker-keeps-nothing", "shipped"])
async def test_alarms_acknowledged_during_a_hub_outage_survive_a_broker_killed_with_sigkill(
    tmp_path: Path, persistence: bool
) -> None:
    async with running_site(tmp_path, persistence=persistence) as site:
        await site.start("hub")
        await site.start("edge")
        # Both up and the hub subscribed: a first heartbeat is stored.
        lk = encode_frame("3G", HEARTBEAT_WATCH, "LK")
        await _acknowledged(site, HEARTBEAT_WATCH, "LK,0,0,90", lk)
        await _until(lambda: site.stored("wristband.heartbeat"), 60, "first heartbeat", site)

        await site.kill("hub")  # a crash, or a deploy
        for native in SOS_WATCHES:
            await _acknowledged(site, native, AL_CONTENT, encode_frame("3G", native, "AL"))
        for n in range(1, 41):
            await _acknowledged(site, HEARTBEAT_WATCH, f"LK,{n},0,90", lk)
        # Every acknowledged event is on the broker (its PUBACK came) and still at the edge.
        await _until(lambda: site.outbox("sent_at IS NOT NULL") >= 43, 60, "all sent", site)

        site.broker.kill()
        site.broker.start()
        await site.start("hub")

        def all_stored() -> bool:
            return len(site.stored("wristband.sos")) >= 3 and (
                len(site.stored("wristband.heartbeat")) >= 41
            )

        await _until(all_stored, 120, "every acknowledged event stored", site)
        # The edge forgets them once the hub has confirmed them.
        await _until(lambda: site.outbox("1") == 0, 60, "the outbox emptied", site)
        await asyncio.sleep(1)  # a late duplicate would land now, and must not count
        sos = site.stored("wristband.sos")
        assert sorted(sos) == sorted(f"watch:{n}" for n in SOS_WATCHES), "each SOS once"
        assert len(site.stored("wristband.heartbeat")) == 41, "each heartbeat once"
        if not persistence:
            # The broker kept nothing, so they can only have come from the edge again.
            assert "go out again" in (site.work / "edge.log").read_text()


class _Bridge:
    """The lock bridge's broker account, MQTT 5, recording each PUBACK's reason code."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="z2m-forger", protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set("zigbee2mqtt", BRIDGE_PASSWORD)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def test_a_lock_bridge_account_cannot_open_an_sos_ticket(tmp_path: Path) -> None:
    async with running_site(tmp_path, persistence=True) as site:
        await site.start("hub")
        await site.start("edge")
        lk = encode_frame("3G", HEARTBEAT_WATCH, "LK")
        await _acknowledged(site, HEARTBEAT_WATCH, "LK,0,0,90", lk)
        await _until(lambda: site.stored("wristband.heartbeat"), 60, "first heartbeat", site)

        info = KINDS["wristband.sos"]
        forged = [
            (
                gateway,
                DeviceEvent(
                    event_id=uuid.uuid4(),
                    device_id=f"watch:{HEARTBEAT_WATCH}",
                    family=DeviceFamily.WRISTBAND,
                    protocol="watch",
                    kind="wristband.sos",
                    severity=info.severity,
                    lane=info.lane,
                    received_at=datetime.now(UTC),
                    gateway_id=gateway,
                ),
            )
            for gateway in ("zigbee2mqtt", "edge-1")
        ]
        bridge = await asyncio.to_thread(_Bridge, site.broker.port)
        try:
            for gateway, event in forged:
                topic = event_topic(gateway, event.lane, event.device_id)
                await asyncio.to_thread(bridge.publish, topic, event.model_dump_json().encode())
        finally:
            await asyncio.to_thread(bridge.close)
        # A genuine SOS from the same watch, after the forgeries: once it is stored,
        # anything forged that got through would be stored too.
        await _acknowledged(
            site, HEARTBEAT_WATCH, AL_CONTENT, encode_frame("3G", HEARTBEAT_WATCH, "AL")
        )
        await _until(lambda: site.stored("wristband.sos"), 60, "the genuine SOS", site)
        await asyncio.sleep(1)
        assert site.stored("wristband.sos") == [f"watch:{HEARTBEAT_WATCH}"]
        db = site.work / "data" / "hub.sqlite3"
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as c:
            forged_ids = {str(e.event_id) for _, e in forged}
            stored_ids = {r[0] for r in c.execute("SELECT event_id FROM events")}
            assert not forged_ids & {str(uuid.UUID(str(i))) for i in stored_ids if i}
