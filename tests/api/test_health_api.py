"""/healthz and /readyz tell the truth, /metrics and the dashboard say the same.

With the real hub on a real Mosquitto and a SQLite file that refuses every
write of the ingest (a trigger), readiness must say failing with the reason,
liveness must not ask for a restart that would not help, and both must come
back once the database takes writes again. Who sees what: anyone the state,
admins and the metrics token the figures.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from api.app import create_app
from api.state import ApiContext, context_of
from chub_mqtt.topics import event_topic
from community_hub_tools.demo.seed import DEMO_PASSWORD, seed_demo
from device_adapters.model import DeadLetter, Lane
from hub.deadletters import service as dead_letter_service
from hub.health import REASONS
from hub.runtime import HubRuntime
from hub.settings import DeadLetterSettings, JwtSettings, MetricsSettings, Settings
from hub.storage.db import Database
from tests.support.brokers import MosquittoProcess
from tests.support.stack import stack_settings

TOKEN = "metrics-token-for-the-health-test-0123456789"
BY_TOKEN = {"Authorization": f"Bearer {TOKEN}"}
FAILING, STALLED = "ingest_commits_failing", "ingest_stalled"
JWT_SECRET = "a-production-secret-for-the-health-tests-0123456789"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("not reached in time")
        await asyncio.sleep(0.1)


def publish(broker: MosquittoProcess, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for topic, payload in messages:
            info = client.publish(topic, payload, qos=1)
            info.wait_for_publish(5)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


async def login(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# -- the real hub with a database that refuses the ingest's writes ----------------------

REFUSE = [
    "CREATE TRIGGER refuse_events BEFORE INSERT ON events "
    "BEGIN SELECT RAISE(ABORT, 'disk on fire (test)'); END",
    "CREATE TRIGGER refuse_letters BEFORE INSERT ON dead_letters "
    "BEGIN SELECT RAISE(ABORT, 'disk on fire (test)'); END",
]


@pytest.fixture
async def hub(mosquitto: MosquittoProcess, tmp_path: Path) -> AsyncIterator[HubRuntime]:
    settings = stack_settings(
        tmp_path,
        mosquitto.host,
        mosquitto.port,
        metrics={"token": TOKEN},
        health={"ingest_stall_s": 1, "commits_failing_s": 1},
    )
    runtime = HubRuntime(settings)
    await runtime.start()
    try:
        async with runtime.db.write() as conn:
            await seed_demo(conn)
        assert await runtime.bridge.wait_connected(10)
        yield runtime
    finally:
        await runtime.stop()


async def _verdict(client: httpx.AsyncClient) -> tuple[str, list[str]]:
    """/readyz as the metrics token sees it: the state and the reasons' codes."""
    body = (await client.get("/readyz", headers=BY_TOKEN)).json()
    return body["status"], body["reasons"]


@pytest.mark.e2e
async def test_readiness_fails_while_commits_fail_and_recovers_after(
    hub: HubRuntime, mosquitto: MosquittoProcess
) -> None:
    app = create_app(context_of(hub))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        assert await _verdict(client) == ("ok", [])
        admin = await login(client, "admin")
        async with hub.db.write() as conn:
            for statement in REFUSE:
                await conn.execute(sa.text(statement))

        # Not an event: it becomes a dead letter, which the database refuses too.
        topic = event_topic("edge-test", Lane.TELEMETRY, "watch:8800000101")
        await asyncio.to_thread(publish, mosquitto, [(topic, b"\xff not an event")])

        async def storing_failed() -> bool:
            return hub.worker.stats.store_failures > 0

        await until(storing_failed)
        # More arrive while the first cannot be stored: they wait.
        await asyncio.to_thread(publish, mosquitto, [(topic, b"\xfe %d" % i) for i in range(5)])

        async def failing_and_stalled() -> bool:
            response = await client.get("/readyz", headers=BY_TOKEN)
            reasons = set(response.json()["reasons"])
            return response.status_code == 503 and reasons >= {FAILING, STALLED}

        await until(failing_and_stalled)
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json() == {"status": "failing"}  # anyone: the state alone
        assert await _verdict(client) == ("failing", [FAILING, STALLED])

        # Alive: a restart would not mend this database. The body still says failing.
        live = await client.get("/healthz", headers=BY_TOKEN)
        assert live.status_code == 200
        assert live.json()["status"] == "failing" and live.json()["restart"] is False
        assert "commits failing" in live.json()["checks"][FAILING]["detail"]
        assert "messages waiting" in live.json()["checks"][STALLED]["detail"]
        assert live.json()["ingest"]["store_failures"] > 0
        assert live.json()["database"] == "ok"

        scrape = await client.get("/metrics", headers=BY_TOKEN)
        figures = samples(scrape.text)
        assert figures[("chub_health_state", frozenset())] == 2
        assert figures[("chub_health_reason", frozenset({("reason", FAILING)}))] == 1
        assert figures[("chub_health_reason", frozenset({("reason", STALLED)}))] == 1
        assert figures[("chub_health_reason", frozenset({("reason", "broker_down")}))] == 0
        assert figures[("chub_health_restart_needed", frozenset())] == 0

        tile = await client.get("/api/v1/dashboard/health", headers=admin)
        assert tile.status_code == 200
        assert tile.json()["status"] == "failing"
        assert [r["code"] for r in tile.json()["reasons"]] == [FAILING, STALLED]

        async with hub.db.write() as conn:
            await conn.execute(sa.text("DROP TRIGGER refuse_events"))
            await conn.execute(sa.text("DROP TRIGGER refuse_letters"))

        async def ready_again() -> bool:
            return await _verdict(client) == ("ok", [])

        await until(ready_again)
        figures = samples((await client.get("/metrics", headers=BY_TOKEN)).text)
        assert figures[("chub_health_state", frozenset())] == 0
        assert figures[("chub_health_reason", frozenset({("reason", FAILING)}))] == 0


# -- who sees what ---------------------------------------------------------------------


@pytest.fixture
async def production_client(api_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        mode="production",
        jwt=JwtSettings(secret=SecretStr(JWT_SECRET)),
        metrics=MetricsSettings(token=SecretStr(TOKEN)),
    )
    app = create_app(ApiContext(db=api_db, settings=settings))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        yield client


async def test_anyone_gets_the_state_admins_and_the_metrics_token_the_figures(
    production_client: httpx.AsyncClient,
) -> None:
    client = production_client
    for path in ("/healthz", "/readyz"):
        anonymous = await client.get(path)
        assert anonymous.status_code == 200
        assert anonymous.json() == {"status": "ok"}  # not why, nor any figure
        for who in (await login(client, "vol.wang"), {"Authorization": "Bearer wrong"}):
            assert (await client.get(path, headers=who)).json() == {"status": "ok"}
        for who in (await login(client, "admin"), BY_TOKEN):
            body = (await client.get(path, headers=who)).json()
            assert body["status"] == "ok" and body["database"] == "ok"
            assert body["checks"] == {} and body["restart"] is False


async def test_a_database_that_does_not_answer_is_not_ready_but_alive() -> None:
    unreachable = Database.open("postgresql+asyncpg://hub@127.0.0.1:9/hub")
    app = create_app(ApiContext(db=unreachable, settings=Settings()))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["reasons"] == ["database_unreachable"]
            live = await client.get("/healthz")  # demo mode, no token: the figures too
            assert live.status_code == 200
            assert live.json()["status"] == "failing"
            assert live.json()["database"].startswith("error: SELECT 1 failed")
    finally:
        await unreachable.close()


# -- dead letters past their bound: counted where an operator looks ---------------------


async def test_dropped_dead_letters_are_counted_in_metrics_and_health(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        metrics=MetricsSettings(token=SecretStr(TOKEN)),
        dead_letters=DeadLetterSettings(per_gateway=10, sample_every=1000),
    )
    runtime = HubRuntime(settings)
    await runtime.db.migrate()
    now = datetime.now(UTC)
    letters = [
        DeadLetter(
            dead_letter_id=uuid.uuid4(),
            gateway_id="edge-flood",
            source="ebike-tcp 10.0.0.7:40001",
            protocol="ebike",
            received_at=now,
            reason="bad checksum",
            raw=b"\xff\xfe\x00garbage",
        )
        for _ in range(50)
    ]
    try:
        async with runtime.db.write() as conn:
            await dead_letter_service.store(conn, letters, now)

        figures = samples((await runtime.metrics.render()).decode())
        dropped = "chub_dead_letters_dropped_total"
        # 10 within the bound, the first one over it as a sample, 39 counted only.
        assert figures[(dropped, frozenset({("reason", "gateway_bound")}))] == 39
        assert figures[(dropped, frozenset({("reason", "total_bound")}))] == 0
        assert figures[("chub_dead_letters_sampled_total", frozenset())] == 1
        for code in REASONS:
            assert ("chub_health_reason", frozenset({("reason", code)})) in figures

        app = create_app(context_of(runtime))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
            body = (await client.get("/healthz", headers=BY_TOKEN)).json()
        assert body["dead_letter_bounds"]["dropped"] == {"gateway_bound": 39, "total_bound": 0}
    finally:
        await runtime.stop()
