"""The API in worker processes: an SOS reaches the volunteer's open page while the API is
under attack, and the workers do what the hub process alone can through it.

`community-hub hub` as a deployment runs it (production mode, two API workers) on a real
Mosquitto, once on SQLite and once on PostgreSQL (where LISTEN/NOTIFY wakes the workers).

- While 8 clients send bodies of the maximal size and more, and 16 others run the
  ordinary mix, an SOS published on MQTT is on the on-duty volunteer's live stream
  (held by a worker) within a generous bound; the benchmark (`community-hub bench
  sos-attack`) holds the real target. The attack gets 413s, never a stalled hub.
- Health and metrics answered by a worker are the hub process's.
- A remote unlock stored by a worker is published on MQTT by the hub process.
- A worker killed with SIGKILL is started again; the API keeps answering meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from chub_mqtt.topics import event_topic
from community_hub_tools.demo.seed import DEMO_PASSWORD
from device_adapters.model import DeviceFamily, Lane
from hub.settings import local_production_env
from hub.storage.db import Database
from tests.support.brokers import MosquittoProcess, free_port
from tests.support.hubdata import (
    device_event,
    open_seeded_db,
    volunteer_on_duty_for,
    wristband_event,
)
from tests.support.postgres import PostgresServer
from tests.support.sse import open_stream

pytestmark = pytest.mark.e2e

SUN = "8800000101"
LOCK = "z2m:b1_101_front_door"
GATEWAY = "edge-1"
METRICS_TOKEN = "k3Jq9VtX2bLw7ZpR0mYc8HsN"
MAX_BODY = 64 * 1024  # small for the test: the attack costs the machine less


@dataclass
class Hub:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    database_url: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _workers(hub: Hub) -> dict[int, int]:
    """API worker index → pid of the newest one started, as the hub's log says."""
    found = {}
    for index, pid in re.findall(r"API worker (\d+) started \(pid (\d+)\)", hub.output()):
        found[int(index)] = int(pid)
    return found


def _nice_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[16])


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":

        async def seed() -> None:
            db = await open_seeded_db(tmp_path)
            await db.close()

        asyncio.run(seed())
        yield f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with server.fresh_database(template=server.seeded_template()) as url:
        yield url


@pytest.fixture
def hub(tmp_path: Path, mosquitto: MosquittoProcess, database_url: str) -> Iterator[Hub]:
    port = free_port()
    env = {
        **os.environ,
        **local_production_env(),
        "HUB_DATA_DIR": str(tmp_path / "data"),
        "HUB_DATABASE_URL": database_url,
        "HUB_MQTT_HOST": mosquitto.host,
        "HUB_MQTT_PORT": str(mosquitto.port),
        "HUB_API_PORT": str(port),
        "HUB_API_WORKERS": "2",
        "HUB_API_MAX_BODY_BYTES": str(MAX_BODY),
        "HUB_METRICS_TOKEN": METRICS_TOKEN,
    }
    log = tmp_path / "hub.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "hub"], env=env, stdout=out, stderr=out
        )
    running = Hub(f"http://127.0.0.1:{port}", process, log, database_url)
    try:
        # Only a guard against a hub that never gets ready: on a busy machine (the suite
        # runs on several workers) the hub and its two API processes took over a minute.
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, running.output()
            try:
                if httpx.get(f"{running.url}/readyz", timeout=5).json()["status"] == "ok":
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            assert time.monotonic() < deadline, running.output()
            time.sleep(0.3)
        yield running
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _login(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _publish(mosquitto: MosquittoProcess, topic: str, payload: bytes) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{time.monotonic_ns()}")
    client.username_pw_set(GATEWAY, "any")  # the test broker checks no passwords
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


async def _attack(url: str, stop: asyncio.Event, answers: list[tuple[str, int]]) -> None:
    """A client sending bodies at and over the limit, as fast as it is answered."""
    bodies = {
        "maximal": b'{"refresh_token": "' + b"x" * (MAX_BODY - 40) + b'"}',
        "oversized": b"{" * (4 * MAX_BODY),
    }
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        while not stop.is_set():
            for name, body in bodies.items():
                try:
                    response = await client.post(
                        "/api/v1/auth/refresh",
                        content=body,
                        headers={"content-type": "application/json"},
                    )
                    answers.append((name, response.status_code))
                except httpx.TransportError:
                    # The 413 comes before the body is all sent, and the server closes.
                    answers.append((name, 0))


async def _ordinary(url: str, headers: dict[str, str], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30, headers=headers) as client:
        while not stop.is_set():
            for path in ("/api/v1/tickets", "/api/v1/chargers/availability", "/api/v1/devices"):
                response = await client.get(path)
                assert response.status_code == 200, (path, response.text)


async def test_an_sos_reaches_the_volunteer_while_the_api_is_attacked(
    hub: Hub, mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    db = Database.open(hub.database_url)
    try:
        volunteer = await volunteer_on_duty_for(db, SUN, datetime.now(UTC))
    finally:
        await db.close()
    async with httpx.AsyncClient(base_url=hub.url, timeout=30) as client:
        headers = await _login(client, volunteer)
        staff = await _login(client, "staff")
        token = headers["Authorization"].split()[1]
        live = await open_stream(client, hub.url, token)

        stop = asyncio.Event()
        answers: list[tuple[str, int]] = []
        load = [asyncio.create_task(_attack(hub.url, stop, answers)) for _ in range(8)]
        load += [asyncio.create_task(_ordinary(hub.url, staff, stop)) for _ in range(16)]
        try:
            await asyncio.sleep(2)  # the attack is in full swing
            sos = wristband_event(SUN, "wristband.sos").model_copy(update={"gateway_id": GATEWAY})
            topic = event_topic(GATEWAY, Lane.ALARM, sos.device_id)
            sent = time.monotonic()
            await asyncio.to_thread(_publish, mosquitto, topic, sos.model_dump_json().encode())
            assigned = await live.next_notification("ticket.assigned", timeout_s=15)
            latency = time.monotonic() - sent
        finally:
            stop.set()
            results = await asyncio.gather(*load, return_exceptions=True)
        for result in results:
            assert not isinstance(result, BaseException), result
        # Titled in the community's language; every language is there for machines.
        assert str(assigned["title"]).startswith("一键求助：")
        assert str(assigned["titles"]["en"]).startswith("SOS: ")
        # Generous: a regression to a shared event loop shows as seconds; the benchmark
        # holds the real target (p99 under 300 ms).
        assert latency < 5.0, latency
        # The maximal bodies were read and refused by validation, the larger ones unread.
        assert {code for name, code in answers if name == "maximal"} == {422}, answers
        assert {code for name, code in answers if name == "oversized"} <= {413, 0}, answers
        assert hub.process.poll() is None


async def test_workers_answer_for_the_hub_process_and_come_back_when_killed(
    hub: Hub, mosquitto: MosquittoProcess
) -> None:
    workers = _workers(hub)
    assert sorted(workers) == [0, 1] and all(map(_alive, workers.values())), hub.output()
    # They yield the CPU to the hub process, which stores the alarms.
    assert [_nice_of(pid) for pid in workers.values()] == [5, 5]
    async with httpx.AsyncClient(base_url=hub.url, timeout=30) as client:
        # The hub process's figures, through whichever worker answers.
        metrics = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert metrics.status_code == 200 and "chub_health_state 0.0" in metrics.text
        assert (await client.get("/metrics")).status_code in (401, 403)
        health = (await client.get("/healthz")).json()
        assert health == {"status": "ok"}

        # A remote unlock stored by a worker goes out on MQTT from the hub process.
        lock = device_event(LOCK, DeviceFamily.LOCK, "lock.locked").model_copy(
            update={"gateway_id": GATEWAY}
        )
        topic = event_topic(GATEWAY, lock.lane, LOCK)
        await asyncio.to_thread(_publish, mosquitto, topic, lock.model_dump_json().encode())
        manager = await _login(client, "manager")
        for _ in range(100):  # until the hub has bound the lock to the gateway
            device = (await client.get(f"/api/v1/devices/{LOCK}", headers=manager)).json()
            if device.get("gateway_id") == GATEWAY:
                break
            await asyncio.sleep(0.1)
        sent = await client.post(
            f"/api/v1/devices/{LOCK}/commands",
            headers=manager,
            json={"kind": "lock.unlock", "reason": "a resident locked out, checked id card"},
        )
        assert sent.status_code == 202, sent.text
        assert sent.json()["status"] == "sent", sent.json()

        # One worker killed: the other answers meanwhile, and it is started again.
        os.kill(workers[0], signal.SIGKILL)
    # (Connections the killed worker held are gone with it; new ones reach the other.)
    fresh = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=hub.url, timeout=30, limits=fresh) as client:
        for _ in range(10):
            assert (await client.get("/api/v1/tickets", headers=manager)).status_code == 200
        deadline = time.monotonic() + 30
        while _workers(hub)[0] == workers[0]:
            assert time.monotonic() < deadline, hub.output()
            await asyncio.sleep(0.2)
        assert "API worker 0 ended" in hub.output()
        assert _alive(_workers(hub)[0]) and _alive(workers[1])
        assert hub.process.poll() is None
