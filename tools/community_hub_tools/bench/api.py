"""API latency under concurrent load: charger availability and ticket lists, figure 3.

The real ``community-hub hub`` process (hub and API, uvicorn) on a seeded
SQLite database, against a real Mosquitto. ``clients`` concurrent aiohttp
clients, logged in as different roles, each send one request after another
for ``duration_s`` seconds, cycling through the endpoint variants below.
Latency is measured per request by the client; every non-2xx answer or
transport error is counted as an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import sqlalchemy as sa
from tqdm import tqdm

from community_hub_tools.bench.stats import percentile
from community_hub_tools.broker.mosquitto import free_port, started_mosquitto
from community_hub_tools.demo.seed import DEMO_PASSWORD, seed_demo
from hub.schema.devices import devices
from hub.schema.grid import buildings, communities, grids
from hub.schema.tickets import tickets
from hub.schema.users import users
from hub.settings import local_metrics_headers, local_production_env
from hub.storage.db import Database

# (label, role logged in, path): what a resident's phone, a volunteer's inbox and the
# staff's desk ask for most.
ENDPOINTS: tuple[tuple[str, str, str], ...] = (
    ("chargers availability (resident)", "resident.sun", "/api/v1/chargers/availability"),
    ("chargers availability (manager)", "manager", "/api/v1/chargers/availability"),
    ("tickets, first page (staff)", "staff", "/api/v1/tickets"),
    ("tickets dispatched (volunteer)", "vol.wang", "/api/v1/tickets?status=dispatched"),
    ("tickets, page 20 (admin)", "admin", "/api/v1/tickets?limit=50&offset=1000"),
    ("tickets raised to community (staff)", "staff", "/api/v1/tickets?level=community"),
)
_STATUSES = (
    ("registered", 10),
    ("dispatched", 15),
    ("accepted", 10),
    ("in_progress", 15),
    ("resolved", 10),
    ("closed", 30),
    ("rated", 10),
)
_PORT_STATES = ("available", "available", "available", "charging", "reserved", "out_of_order")


@dataclass
class EndpointStats:
    label: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


@dataclass
class ApiResult:
    clients: int
    duration_s: float
    chargers: int
    ports: int
    tickets: int
    endpoints: list[EndpointStats]
    # One client alone first: each request's own cost, without queueing behind the others.
    alone: list[EndpointStats] = field(default_factory=list)
    alone_s: float = 0.0
    elapsed_s: float = 0.0
    load_average: tuple[float, float] = (0.0, 0.0)
    api_workers: str = ""  # HUB_API_WORKERS of the hub measured

    @property
    def rate(self) -> float:
        return sum(len(e.latencies_ms) for e in self.endpoints) / self.elapsed_s

    @property
    def p99(self) -> float:
        return percentile([v for e in self.endpoints for v in e.latencies_ms], 99)

    @property
    def errors(self) -> int:
        return sum(e.errors for e in (*self.endpoints, *self.alone))


async def seed_api_database(url: str, chargers: int, ports_each: int, ticket_count: int) -> None:
    """The demo community plus ``chargers`` charging piles and ``ticket_count`` tickets."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    db = Database.open(url)
    try:
        await db.migrate()
        async with db.write() as conn:
            await seed_demo(conn)
            building_ids = list((await conn.execute(sa.select(buildings.c.id))).scalars())
            grid_rows = (await conn.execute(sa.select(grids.c.id, grids.c.community_id))).all()
            community_id = (await conn.execute(sa.select(communities.c.id))).scalars().first()
            volunteers = list(
                (
                    await conn.execute(sa.select(users.c.id).where(users.c.role == "volunteer"))
                ).scalars()
            )
            piles = []
            for n in range(chargers):
                ports = {
                    str(p): {
                        "availability": rng.choice(_PORT_STATES),
                        "updated_at": now.isoformat(),
                        "power_w": 3500.0,
                    }
                    for p in range(1, ports_each + 1)
                }
                piles.append(
                    {
                        "id": f"ebike:BENCH-{n:05d}",
                        "family": "charger",
                        "protocol": "ebike",
                        "name": f"Bench pile {n}",
                        "registered": True,
                        "building_id": rng.choice(building_ids),
                        "state": {"ports": ports},
                        "last_seen_at": now,
                        "online": True,
                    }
                )
            await conn.execute(devices.insert(), piles)
            statuses = [s for s, weight in _STATUSES for _ in range(weight)]
            rows = []
            for n in range(ticket_count):
                grid_id, _community = rng.choice(grid_rows)
                created = now - timedelta(minutes=rng.randint(1, 60 * 24 * 90))
                rows.append(
                    {
                        "title": f"Bench ticket {n}",
                        "description": "seeded by the API benchmark",
                        "category": rng.choice(["wristband_sos", "charger_fault", "repair"]),
                        "status": rng.choice(statuses),
                        "priority": rng.choice(["urgent", "high", "normal", "low"]),
                        "source": rng.choice(["device_alert", "resident", "staff"]),
                        "community_id": community_id,
                        "grid_id": grid_id,
                        "assignee_id": rng.choice(volunteers),
                        "created_at": created,
                        "updated_at": created + timedelta(minutes=5),
                        "level": "community" if rng.random() < 0.1 else "grid",
                    }
                )
            for start in range(0, len(rows), 1000):
                await conn.execute(tickets.insert(), rows[start : start + 1000])
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def hub_process(
    work: Path, broker_port: int, env_extra: dict[str, str] | None = None
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """``community-hub hub`` on ``work``'s SQLite; yields its API base URL and process."""
    api_port = free_port()
    env = {
        **os.environ,
        **local_production_env(),  # `community-hub hub` runs in production only
        "HUB_DATA_DIR": str(work / "data"),
        "HUB_MQTT_HOST": "127.0.0.1",
        "HUB_MQTT_PORT": str(broker_port),
        "HUB_API_HOST": "127.0.0.1",
        "HUB_API_PORT": str(api_port),
        **(env_extra or {}),
    }
    env.pop("HUB_DATABASE_URL", None)
    log = work / "hub.log"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.cli",
        "hub",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    api = f"http://127.0.0.1:{api_port}"
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            deadline = time.monotonic() + 120
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
                    raise RuntimeError(f"the hub did not start:\n{tail}")
                await asyncio.sleep(0.2)
        yield api, proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 15)


async def login(client: httpx.AsyncClient, api: str, username: str) -> str:
    answer = await client.post(
        f"{api}/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def mix_session(clients: int) -> aiohttp.ClientSession:
    """The load clients' connections. aiohttp, not httpx: its parser is compiled, and
    the load must leave the 2 cores to the hub (httpx cost about 1 ms of CPU a request,
    half the machine at 300 requests/s, which then capped what was measured)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=clients + 4),
        timeout=aiohttp.ClientTimeout(total=30),
    )


async def mix_client(
    n: int,
    client: aiohttp.ClientSession,
    api: str,
    tokens: dict[str, str],
    stats: list[EndpointStats],
    until: float,
    bar: tqdm[Any],
) -> None:
    """One client of the ordinary mix (ENDPOINTS), one request after another until ``until``."""
    i = n  # each client starts at another variant
    while time.monotonic() < until:
        k = i % len(ENDPOINTS)
        _label, role, path = ENDPOINTS[k]
        i += 1
        started = time.perf_counter()
        try:
            async with client.get(
                api + path, headers={"Authorization": f"Bearer {tokens[role]}"}
            ) as answer:
                await answer.read()
                ok = 200 <= answer.status < 300
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        elapsed = (time.perf_counter() - started) * 1000
        if ok:
            stats[k].latencies_ms.append(elapsed)
        else:
            stats[k].errors += 1
        bar.update(1)


async def run_api_bench(
    clients: int = 32,
    duration_s: float = 30.0,
    chargers: int = 300,
    ports_each: int = 10,
    ticket_count: int = 5000,
    alone_s: float = 6.0,
    progress: bool = True,
    api_workers: str | None = None,
) -> ApiResult:
    """``api_workers``: HUB_API_WORKERS for the hub ("0": the API in the hub process);
    None: the hub's default (one worker per core)."""
    stats = [EndpointStats(label) for label, _r, _p in ENDPOINTS]
    result = ApiResult(
        clients, duration_s, chargers, chargers * ports_each, ticket_count, stats, alone_s=alone_s
    )
    result.alone = [EndpointStats(label) for label, _r, _p in ENDPOINTS]
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="chub-bench-api-") as tmp:
        work = Path(tmp)
        await seed_api_database(
            f"sqlite+aiosqlite:///{work / 'data' / 'hub.sqlite3'}",
            chargers,
            ports_each,
            ticket_count,
        )
        async with (
            started_mosquitto(work, "the API benchmark") as broker,
            hub_process(
                work,
                broker.port,
                {"HUB_API_WORKERS": api_workers} if api_workers is not None else None,
            ) as (api, _proc),
            httpx.AsyncClient(timeout=30) as client,
            mix_session(clients) as mix,
        ):
            roles = sorted({role for _l, role, _p in ENDPOINTS})
            tokens = {role: await login(client, api, role) for role in roles}
            with tqdm(unit="req", desc="api", disable=not progress) as bar:
                bar.set_postfix(phase="one client", refresh=True)
                await mix_client(0, mix, api, tokens, result.alone, time.monotonic() + alone_s, bar)
                bar.set_postfix(phase=f"{clients} clients", refresh=True)
                started = time.monotonic()
                until = started + duration_s
                await asyncio.gather(
                    *(mix_client(n, mix, api, tokens, stats, until, bar) for n in range(clients))
                )
                result.elapsed_s = time.monotonic() - started
    result.load_average = (before, os.getloadavg()[0])
    result.api_workers = api_workers if api_workers is not None else str(os.cpu_count() or 1)
    return result


def _table(r: ApiResult) -> list[str]:
    lines = [
        f"### HUB_API_WORKERS={r.api_workers}",
        "",
        f"`community-hub hub` (hub and API, uvicorn) on SQLite seeded with the demo "
        f"community plus {r.chargers:,} charging piles ({r.ports:,} ports) and "
        f"{r.tickets:,} tickets in mixed states; a real Mosquitto. {r.clients} concurrent "
        "aiohttp clients in one benchmark process (one connection each, logged in as a "
        "resident, the property manager, staff, a volunteer and the admin) send one "
        f"request after another for {r.duration_s:.0f} s (after one client alone for "
        f"{r.alone_s:.0f} s), cycling through the variants "
        "below. Latency as the client sees it; the client process and the hub share the "
        f"machine's {os.cpu_count()} cores with other engineers' work (1-minute load "
        f"average {r.load_average[0]:.1f} before, {r.load_average[1]:.1f} after).",
        "",
        f"| endpoint | one client alone: p50 | {r.clients} clients: requests | p50 | p99 | "
        "throughput | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for e, alone in zip(r.endpoints, r.alone or r.endpoints, strict=True):
        lines.append(
            f"| {e.label} | {alone.p(50):,.1f} ms | {len(e.latencies_ms):,} | "
            f"{e.p(50):,.1f} ms | {e.p(99):,.1f} ms | "
            f"{len(e.latencies_ms) / r.elapsed_s:,.1f} req/s | {e.errors + alone.errors} |"
        )
    every = [v for e in r.endpoints for v in e.latencies_ms]
    alone_all = [v for e in r.alone for v in e.latencies_ms]
    total = len(every)
    lines += [
        f"| **all** | {percentile(alone_all, 50):,.1f} ms | {total:,} | "
        f"{percentile(every, 50):,.1f} ms | {percentile(every, 99):,.1f} ms | "
        f"{total / r.elapsed_s:,.1f} req/s | {r.errors} |",
    ]
    return lines


RATE_TARGET = 500.0  # requests/s in all, 32 clients, this 2-core machine
P99_TARGET_MS = 250.0


def markdown(runs: list[ApiResult]) -> str:
    """The runs one after another in one session: the API in the hub process, then in workers."""
    last = runs[-1]
    lines = ["## API under concurrent load: charger availability and ticket lists", ""]
    for r in runs:
        lines += [*_table(r), ""]
    if len(runs) > 1:
        first = runs[0]
        lines.append(
            f"Before / after (HUB_API_WORKERS={first.api_workers} → {last.api_workers}): "
            f"{last.rate / first.rate:,.1f}× the requests/s, p99 {first.p99 / last.p99:,.1f}× "
            "lower."
        )
        lines.append("")
    met = last.errors == 0 and last.rate >= RATE_TARGET and last.p99 < P99_TARGET_MS
    lines.append(
        f"<!-- summary: 3. API under {last.clients} clients (HUB_API_WORKERS="
        f"{last.api_workers}) | {last.rate:,.0f} req/s, p99 {last.p99:,.0f} ms, availability "
        f"{_pair(last, 'chargers')}, tickets {_pair(last, 'tickets')}, errors {last.errors} | "
        f">= {RATE_TARGET:.0f} req/s, p99 < {P99_TARGET_MS:.0f} ms | "
        f"{'met' if met else 'not met'} -->"
    )
    return "\n".join(lines)


def _pair(r: ApiResult, prefix: str) -> str:
    values = [v for e in r.endpoints if e.label.startswith(prefix) for v in e.latencies_ms]
    return f"{percentile(values, 50):,.0f} / {percentile(values, 99):,.0f} ms"
