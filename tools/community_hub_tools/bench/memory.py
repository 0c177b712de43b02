"""Peak memory of a hub with 100,000 registered devices (figure 4; target < 500 MB).

The real ``community-hub hub`` process (hub and API in one process) on a
SQLite database seeded with the demo community plus ``devices`` registered
devices of every family, against a real Mosquitto. Then, as in a working
day: heartbeats and availability changes of a sample of the devices flow in
over MQTT, and the API is asked for the device list (every page) and the
charger availability. Measured from ``/proc/<pid>/status``: VmRSS after each
stage and VmHWM (the peak resident set) at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import sqlalchemy as sa
from tqdm import tqdm

from chub_mqtt.topics import availability_topic, event_topic
from community_hub_tools.bench.api import hub_process, login
from community_hub_tools.broker.mosquitto import started_mosquitto
from community_hub_tools.demo.seed import seed_demo
from device_adapters.model import DeviceAvailability, Lane
from device_adapters.watch import decode_frame, encode_frame, to_events
from hub.schema.devices import devices
from hub.schema.grid import buildings, households
from hub.settings import local_metrics_headers
from hub.storage.db import Database

TARGET_MB = 500.0
_GATEWAY = "bench-memory"
# Registered devices by family, as shares of the total: mostly wristbands and locks.
_FAMILIES = (
    ("wristband", "watch", 0.5),
    ("lock", "z2m", 0.3),
    ("door_access", "hikvision_acs", 0.18),
    ("charger", "ebike", 0.02),
)


def _native(n: int) -> str:
    return f"85{n:08d}"


@dataclass
class MemoryResult:
    devices: int
    active: int
    events: int
    # (stage, VmRSS MB, VmHWM MB so far): the peak so far places it in a stage.
    stages: list[tuple[str, float, float]] = field(default_factory=list)
    peak_mb: float = 0.0
    stored: int = 0
    device_pages: int = 0
    chargers_listed: int = 0

    @property
    def met(self) -> bool:
        return 0 < self.peak_mb < TARGET_MB


def proc_status_mb(pid: int, key: str) -> float:
    """VmRSS, VmHWM, … of a process, in MB (from /proc, Linux only)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{key} not in /proc/{pid}/status")


def _with_children(pid: int) -> list[int]:
    """The hub process and its children: its MQTT receiver and multiprocessing's tracker."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            children += [int(c) for c in (task / "children").read_text().split()]
    return [pid, *children]


def hub_mb(pid: int, key: str) -> float:
    """``proc_status_mb`` summed over the hub's processes (peaks summed: an upper bound)."""
    total = 0.0
    for member in _with_children(pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += proc_status_mb(member, key)
    return total


async def seed_devices(url: str, count: int) -> None:
    db = Database.open(url)
    try:
        await db.migrate()
        async with db.write() as conn:
            await seed_demo(conn)
            building_ids = list((await conn.execute(sa.select(buildings.c.id))).scalars())
            household_id = (await conn.execute(sa.select(households.c.id))).scalars().first()
            rows: list[dict[str, Any]] = []
            n = 0
            for family, protocol, share in _FAMILIES:
                for _ in range(int(count * share)):
                    device_id = (
                        f"watch:{_native(n)}"
                        if family == "wristband"
                        else (f"{protocol}:bench-{n:06d}")
                    )
                    rows.append(
                        {
                            "id": device_id,
                            "family": family,
                            "protocol": protocol,
                            "name": f"Bench {family} {n}",
                            "registered": True,
                            "household_id": household_id if family == "wristband" else None,
                            "building_id": building_ids[n % len(building_ids)],
                            "state": {},
                        }
                    )
                    n += 1
            for start in range(0, len(rows), 5000):
                await conn.execute(devices.insert(), rows[start : start + 5000])
    finally:
        await db.close()


def _publish_activity(port: int, active: int, rounds: int) -> int:
    """Heartbeats (``rounds`` per device) and an availability change per active wristband."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    now = datetime.now(UTC)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{_GATEWAY}-{os.getpid()}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    acked = [0]
    client.on_publish = lambda *_a: acked.__setitem__(0, acked[0] + 1)
    client.connect("127.0.0.1", port)
    sock = client.socket()
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sent = 0

    def send(topic: str, payload: bytes, retain: bool = False) -> None:
        nonlocal sent
        while sent - acked[0] >= 1000:
            client.loop(timeout=0.01)
        client.publish(topic, payload, qos=1, retain=retain)
        sent += 1

    for r in range(rounds):
        for n in range(active):
            frame = decode_frame(encode_frame("3G", _native(n), f"LK,{r},0,{80 - r}"))
            for event in to_events(
                frame, received_at=now, gateway_id=_GATEWAY, new_id=lambda: uuid4()
            ):
                send(event_topic(_GATEWAY, Lane.TELEMETRY, event.device_id),
                     event.model_dump_json().encode())  # fmt: skip
            client.loop(timeout=0)
    for n in range(active):
        device_id = f"watch:{_native(n)}"
        body = DeviceAvailability(
            device_id=device_id, gateway_id=_GATEWAY, online=True, reason="connected", at=now
        )
        send(availability_topic(_GATEWAY, device_id), body.model_dump_json().encode(), True)
    deadline = time.monotonic() + 60
    while acked[0] < sent and time.monotonic() < deadline:
        client.loop(timeout=0.01)
    client.disconnect()
    return sent


async def _stored(client: httpx.AsyncClient, api: str) -> int:
    return int(
        (await client.get(f"{api}/healthz", headers=local_metrics_headers())).json()["ingest"][
            "stored"
        ]
    )


async def run_memory_bench(
    device_count: int = 100_000, active: int = 10_000, rounds: int = 3, progress: bool = True
) -> MemoryResult:
    active = min(active, int(device_count * _FAMILIES[0][2]))  # registered wristbands only
    result = MemoryResult(device_count, active, active * rounds)
    with (
        tempfile.TemporaryDirectory(prefix="chub-bench-memory-") as tmp,
        tqdm(total=5, unit="stage", desc="memory", disable=not progress) as bar,
    ):
        work = Path(tmp)
        bar.set_postfix(stage=f"seeding {device_count:,} devices", refresh=True)
        await seed_devices(f"sqlite+aiosqlite:///{work / 'data' / 'hub.sqlite3'}", device_count)
        bar.update(1)
        async with (
            started_mosquitto(work, "the memory benchmark") as broker,
            hub_process(work, broker.port) as (api, proc),
            httpx.AsyncClient(timeout=120) as client,
        ):
            pid = proc.pid

            def stage(name: str) -> None:
                rss, hwm = hub_mb(pid, "VmRSS"), hub_mb(pid, "VmHWM")
                result.stages.append((name, rss, hwm))
                bar.update(1)

            stage("started, connected to the broker")
            bar.set_postfix(stage="device activity over MQTT", refresh=True)
            before = await _stored(client, api)
            sent = await asyncio.to_thread(_publish_activity, broker.port, active, rounds)
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                result.stored = await _stored(client, api) - before
                bar.set_postfix(stage="hub storing", stored=result.stored, refresh=True)
                if result.stored >= result.events:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(2)  # availability messages follow the events
            stage(
                f"after {result.stored:,} events and {sent - result.events:,} availability changes"
            )
            bar.set_postfix(stage="API", refresh=True)
            token = await login(client, api, "admin")
            headers = {"Authorization": f"Bearer {token}"}
            offset = 0
            while True:
                page = await client.get(
                    f"{api}/api/v1/devices",
                    params={"limit": 200, "offset": offset},
                    headers=headers,
                )
                page.raise_for_status()
                body = page.json()
                items = body["items"] if isinstance(body, dict) else body
                result.device_pages += 1
                if len(items) < 200:
                    break
                offset += 200
            for _ in range(3):
                answer = await client.get(f"{api}/api/v1/chargers/availability", headers=headers)
                answer.raise_for_status()
                result.chargers_listed = len(answer.json())
            stage(f"after {result.device_pages} device pages and the charger availability")
            result.peak_mb = hub_mb(pid, "VmHWM")
            bar.update(1)
    return result


def markdown(r: MemoryResult) -> str:
    verdict = "**met**" if r.met else "**not met**"
    lines = [
        "## Memory: a hub with 100,000 registered devices"
        if r.devices == 100_000
        else f"## Memory: a hub with {r.devices:,} registered devices",
        "",
        f"`community-hub hub` (hub and API in one process) with default settings on "
        f"SQLite seeded with the demo community plus {r.devices:,} registered devices "
        "(half wristbands, 30 % locks, 18 % door controllers, 2 % charging piles), against "
        f"a real Mosquitto. Activity: {r.active:,} of the wristbands send "
        f"{r.events // max(r.active, 1)} heartbeats each ({r.events:,} events) and one "
        "retained availability change each, over MQTT at QoS 1; then the admin pages "
        f"through `GET /api/v1/devices` ({r.device_pages} pages of 200) and asks for "
        f"`GET /api/v1/chargers/availability` three times ({r.chargers_listed:,} chargers). "
        "Resident set size from `/proc/<pid>/status`, summed over the hub process and "
        "its children (the MQTT receiver process and multiprocessing's resource "
        "tracker); the peak is the sum of each one's peak, an upper bound.",
        "",
        "| stage | VmRSS at its end | peak so far (VmHWM) |",
        "|---|---:|---:|",
        *(f"| {name} | {rss:,.0f} MB | {hwm:,.0f} MB |" for name, rss, hwm in r.stages),
        f"| **peak (VmHWM)** | | **{r.peak_mb:,.0f} MB** |",
        "",
        f"Target: peak < {TARGET_MB:.0f} MB: {verdict}.",
        "",
        f"<!-- summary: 4. peak memory, {r.devices:,} devices | {r.peak_mb:,.0f} MB | "
        f"< {TARGET_MB:.0f} MB | {'met' if r.met else 'not met'} -->",
    ]
    return "\n".join(lines)
