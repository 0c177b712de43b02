"""GET /metrics on a running stack: hub, edge and API on a real Mosquitto.

Device input goes in the way it does in production (an SOS and a broken frame
over the watch TCP server, an event sent twice and a bad message straight onto
the broker), and the scraped figures must match what the database holds.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
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
from api.state import ApiContext
from chub_mqtt.topics import event_topic
from community_hub_tools.sim.watch import SimulatedWatch, send_once
from device_adapters.model import DeviceEvent, DeviceFamily, Lane
from hub.metrics.db_counts import OPEN_STATES
from hub.schema.alerts import alerts
from hub.schema.events import events
from hub.schema.notifications import notification_outbox
from hub.settings import ApiSettings, JwtSettings, MetricsSettings, Settings
from hub.storage.db import Database
from tests.support.brokers import MosquittoProcess, free_port
from tests.support.stack import Stack, poll, running_stack, stack_edge_settings, stack_settings

pytestmark = pytest.mark.e2e

SUN = "8800000101"
TOKEN = "metrics-token-for-the-test-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@pytest.fixture
async def stack(mosquitto: MosquittoProcess, tmp_path: Path) -> AsyncIterator[Stack]:
    settings = stack_settings(
        tmp_path / "hub", mosquitto.host, mosquitto.port, metrics={"token": TOKEN}
    )
    edge = stack_edge_settings(settings, metrics_token=TOKEN, edge_metrics_port=free_port())
    async with running_stack(settings, edge) as running:
        yield running


def _publish(host: str, port: int, messages: list[tuple[str, bytes]]) -> None:
    """Publish at QoS 1 as a foreign client would (the test broker is anonymous)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
    client.connect(host, port)
    client.loop_start()
    try:
        for topic, payload in messages:
            info = client.publish(topic, payload, qos=1)
            info.wait_for_publish(5)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


async def _scrape(client: httpx.AsyncClient, url: str) -> Samples:
    response = await client.get(url, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def _db_counts(stack: Stack) -> tuple[dict[str, int], dict[str, int]]:
    async with stack.hub.db.read() as conn:
        lanes = await conn.execute(
            sa.select(events.c.lane, sa.func.count()).group_by(events.c.lane)
        )
        severities = await conn.execute(
            sa.select(alerts.c.severity, sa.func.count()).group_by(alerts.c.severity)
        )
        return {str(k): int(n) for k, n in lanes}, {str(k): int(n) for k, n in severities}


async def _outbox_rows(stack: Stack) -> float:
    async with stack.hub.db.read() as conn:
        query = sa.select(sa.func.count()).select_from(notification_outbox)
        return float((await conn.execute(query)).scalar_one())


async def test_metrics_count_what_the_hub_stored(stack: Stack) -> None:
    settings = stack.edge_settings
    # An SOS (alert, ticket) and a frame the edge cannot decode (a dead letter), over TCP.
    await send_once(
        "127.0.0.1", settings.watch_port, SimulatedWatch(SUN).alarm("sos"), expect_reply=True
    )
    await send_once(
        "127.0.0.1", settings.watch_port, b"[3G*8800000101*0010*UD,not-a-frame]", expect_reply=False
    )
    # The same telemetry event twice (as a redelivery would bring it) and a message on an
    # event topic that is no event: one stored, one duplicate, one dead letter made by the hub.
    twice = (
        DeviceEvent(
            event_id=uuid.uuid4(),
            device_id=f"watch:{SUN}",
            family=DeviceFamily.WRISTBAND,
            protocol="watch",
            kind="wristband.heartbeat",
            received_at=datetime.now(UTC),
            gateway_id=settings.gateway_id,
            values={"battery_pct": 80},
        )
        .model_dump_json()
        .encode()
    )
    topic = event_topic(settings.gateway_id, Lane.TELEMETRY, f"watch:{SUN}")
    await asyncio.to_thread(
        _publish,
        settings.mqtt_host,
        settings.mqtt_port,
        [(topic, twice), (topic, twice), (topic, b"{not json")],
    )

    metrics_url = f"{stack.api_url}/metrics"
    async with httpx.AsyncClient(timeout=10) as client:
        admin = await stack.login(client, "admin")
        await poll(client, f"{stack.api_url}/api/v1/tickets?status=dispatched", admin)
        await poll(client, f"{stack.api_url}/api/v1/dead-letters", admin, until_total=2)

        # Without the token, or with a wrong one: 401 with the reason.
        anonymous = await client.get(metrics_url)
        assert anonymous.status_code == 401 and "HUB_METRICS_TOKEN" in anonymous.json()["detail"]
        wrong = await client.get(metrics_url, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401

        # Counters move after the commit (listeners run then): scrape until they settle.
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            samples = await _scrape(client, metrics_url)
            lanes, severities = await _db_counts(stack)
            stored = {
                lane: value(samples, "chub_events_stored_total", lane=lane)
                for lane in ("alarm", "telemetry")
            }
            latency_counts = {
                severity: value(samples, "chub_alert_latency_seconds_count", severity=severity)
                for severity in severities
            }
            notes = await _outbox_rows(stack)
            pushed = value(samples, "chub_notifications_pushed_live_total")
            settled = (
                stored == {lane: float(lanes.get(lane, 0)) for lane in ("alarm", "telemetry")}
                and latency_counts == {s: float(n) for s, n in severities.items()}
                and value(samples, "chub_ingest_duplicates_total") == 1
                and value(samples, "chub_bridge_inbox_pending") == 0
                and pushed == notes
            )
            if settled or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.2)

    # Events stored by lane: exactly what the events table holds, one SOS among them.
    assert lanes["alarm"] == 1 and stored["alarm"] == 1
    assert lanes["telemetry"] >= 1 and stored["telemetry"] == lanes["telemetry"]
    assert value(samples, "chub_ingest_duplicates_total") == 1
    # Received by connection: the one SOS on the alarm connection (once, or again
    # if redelivered), the telemetry and the two bad messages on the main one.
    alarms = value(samples, "chub_mqtt_messages_received_total", connection="alarms")
    main = value(samples, "chub_mqtt_messages_received_total", connection="main")
    assert alarms is not None and 1 <= alarms <= 2
    assert main is not None and main >= lanes["telemetry"] + 2

    # Dead letters: the process counter, and the stored ones by reason and protocol.
    assert value(samples, "chub_ingest_dead_letters_total") == 2
    assert (
        value(
            samples,
            "chub_dead_letters_stored_total",
            reason="undecodable_device_input",
            protocol="watch",
        )
        == 1
    )
    assert (
        value(samples, "chub_dead_letters_stored_total", reason="invalid_message", protocol="mqtt")
        == 1
    )

    # Alert latency: one observation per alert opened, the SOS among the critical ones,
    # and it took less than the 60 s bucket (a local stack takes milliseconds).
    assert latency_counts == {s: float(n) for s, n in severities.items()}
    assert latency_counts["critical"] == 1
    assert value(samples, "chub_alert_latency_seconds_bucket", severity="critical", le="60.0") == 1
    latency = value(samples, "chub_alert_latency_seconds_sum", severity="critical")
    assert latency is not None and 0 <= latency < 10

    # Open tickets by state: the SOS's ticket is dispatched, every other open state is 0.
    assert value(samples, "chub_tickets_open", status="dispatched") == 1
    others = [value(samples, "chub_tickets_open", status=s) for s in OPEN_STATES]
    assert sum(v or 0 for v in others) == 1 and None not in others

    # Queues: connected, nothing waiting; the embedded history is the only telemetry sink.
    assert value(samples, "chub_mqtt_connected") == 1
    assert value(samples, "chub_bridge_reading_paused_total") == 0
    assert value(samples, "chub_telemetry_buffer_depth", sink="history") is not None
    assert value(samples, "chub_telemetry_points_queued_total", sink="influx") is None
    # Live push: every notification the SOS committed went to this hub's live streams.
    # Whether ingest waited for that push is a 0.25 s wall-clock budget (after_ingest):
    # hub, edge, API and this test share one event loop, and on a busy host a live-feed
    # pass can take longer; that counts a timeout and loses nothing, so it is exported,
    # not asserted (test_notification_outbox asserts the wait itself).
    assert notes >= 1 and pushed == notes
    assert value(samples, "chub_notifications_live_first_timeouts_total") is not None

    # The edge's own endpoint: everything forwarded, nothing left in its outbox. It asks
    # for the same token as the hub's.
    edge_url = f"http://127.0.0.1:{settings.edge_metrics_port}/metrics"
    gateway = settings.gateway_id
    async with httpx.AsyncClient(timeout=10) as client:
        for wrong in ({}, {"Authorization": "Bearer nope"}):
            refused = await client.get(edge_url, headers=wrong)
            assert refused.status_code == 401 and "EDGE_METRICS_TOKEN" in refused.text
        edge = parse((await client.get(edge_url, headers=AUTH)).text)
    forwarded = value(edge, "chub_edge_outbox_forwarded_total", gateway_id=gateway)
    # The SOS and its telemetry, and the broken frame's dead letter, went through the outbox.
    assert forwarded is not None and forwarded >= 2
    assert value(edge, "chub_edge_outbox_stored_total", gateway_id=gateway) == forwarded
    assert value(edge, "chub_edge_outbox_backlog", gateway_id=gateway) == 0
    assert value(edge, "chub_edge_uplink_connected", gateway_id=gateway) == 1


async def test_the_edge_reports_its_backlog_while_the_broker_is_down(
    stack: Stack, mosquitto: MosquittoProcess
) -> None:
    settings = stack.edge_settings
    edge_url = f"http://127.0.0.1:{settings.edge_metrics_port}/metrics"
    gateway = settings.gateway_id
    mosquitto.stop()
    watch = SimulatedWatch(SUN)
    for _ in range(3):
        await send_once("127.0.0.1", settings.watch_port, watch.alarm("sos"), expect_reply=True)
    async with httpx.AsyncClient(timeout=10) as client:
        edge = parse((await client.get(edge_url, headers=AUTH)).text)
        assert value(edge, "chub_edge_uplink_connected", gateway_id=gateway) == 0
        backlog = value(edge, "chub_edge_outbox_backlog", gateway_id=gateway)
        alarms = value(edge, "chub_edge_outbox_backlog_alarms", gateway_id=gateway)
        assert backlog is not None and backlog >= 3
        assert alarms == 3

        mosquitto.start()
        deadline = asyncio.get_running_loop().time() + 30
        while value(edge, "chub_edge_outbox_backlog", gateway_id=gateway) != 0:
            assert asyncio.get_running_loop().time() < deadline, "the backlog never drained"
            await asyncio.sleep(0.2)
            edge = parse((await client.get(edge_url, headers=AUTH)).text)
    assert value(edge, "chub_edge_outbox_backlog_alarms", gateway_id=gateway) == 0


async def test_outside_demo_mode_metrics_need_a_token(tmp_path: Path) -> None:
    production = Settings(
        mode="production",
        jwt=JwtSettings(secret=SecretStr(secrets.token_urlsafe(36))),
        data_dir=tmp_path,
        api=ApiSettings(port=free_port()),
    )
    db = Database.open(production.resolved_database_url)
    try:
        app = create_app(ApiContext(db=db, settings=production))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            refused = await client.get("/metrics")
            assert refused.status_code == 403
            assert "HUB_METRICS_TOKEN" in refused.json()["detail"]
            # With a token but no collector wired into this app: 404, said plainly.
            app.state.ctx.settings = production.model_copy(
                update={"metrics": MetricsSettings(token=SecretStr(TOKEN))}
            )
            missing = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            assert missing.status_code == 404
            assert missing.json()["detail"] == "this process collects no metrics"
    finally:
        await db.close()


async def test_notifications_a_webhook_has_not_taken_show_as_a_backlog(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    """A webhook target that is down: the SOS's notifications wait in the outbox, counted."""
    nobody_listens = f"http://127.0.0.1:{free_port()}/hook"
    settings = stack_settings(
        tmp_path / "hub",
        mosquitto.host,
        mosquitto.port,
        metrics={"token": TOKEN},
        notifications={"webhook_urls": [nobody_listens]},
    )
    async with running_stack(settings) as stack:
        await send_once(
            "127.0.0.1",
            stack.edge_settings.watch_port,
            SimulatedWatch(SUN).alarm("sos"),
            expect_reply=True,
        )
        async with httpx.AsyncClient(timeout=10) as client:
            staff = await stack.login(client, "staff")
            await poll(client, f"{stack.api_url}/api/v1/tickets", staff)
            # Counted in the database, cached for up to 10 s: scrape until it shows.
            for _ in range(30):
                samples = await _scrape(client, f"{stack.api_url}/metrics")
                waiting = value(samples, "chub_notifications_undelivered")
                if waiting:
                    break
                await asyncio.sleep(0.5)
        assert waiting is not None and waiting >= 1
        age = value(samples, "chub_notifications_oldest_undelivered_age_seconds")
        assert age is not None and age > 0
