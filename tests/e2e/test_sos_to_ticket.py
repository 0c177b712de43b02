"""The walking skeleton end to end: a watch's SOS frame over TCP → edge → real broker →
hub → alert and ticket → the on-duty volunteer sees it through the HTTP API.

Runs on a real Mosquitto and on the demo's embedded broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from community_hub_tools.broker.embedded import EmbeddedBroker
from community_hub_tools.sim.watch import SimulatedWatch, send_once
from tests.support.brokers import MosquittoProcess, free_port
from tests.support.hubdata import volunteer_on_duty_for
from tests.support.stack import Stack, poll, running_stack, stack_settings

pytestmark = pytest.mark.e2e

SUN = "8800000101"


@pytest.fixture(params=["mosquitto", "embedded"])
async def stack(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stack]:
    if request.param == "mosquitto":
        broker: MosquittoProcess = request.getfixturevalue("mosquitto")
        settings = stack_settings(tmp_path / "hub", broker.host, broker.port)
        async with running_stack(settings) as running:
            yield running
        return
    # The async embedded_broker fixture cannot be requested from here; start it directly.
    async with EmbeddedBroker("127.0.0.1", free_port()) as embedded:
        settings = stack_settings(tmp_path / "hub", embedded.host, embedded.port)
        async with running_stack(settings) as running:
            yield running


async def test_sos_frame_becomes_an_alert_and_a_ticket_for_the_volunteer_on_duty(
    stack: Stack,
) -> None:
    watch = SimulatedWatch(SUN)
    reply = await send_once(
        "127.0.0.1", stack.edge_settings.watch_port, watch.alarm("sos"), expect_reply=True
    )
    assert reply is not None and reply.endswith(b"*0002*AL]")
    volunteer = await volunteer_on_duty_for(stack.hub.db, SUN, datetime.now(UTC))

    async with httpx.AsyncClient(timeout=10) as client:
        headers = await stack.login(client, volunteer)
        tickets = await poll(client, f"{stack.api_url}/api/v1/tickets?status=dispatched", headers)
        assert tickets["total"] == 1
        ticket = tickets["items"][0]  # type: ignore[index]
        # In the community's language (Simplified Chinese), and every language for machines.
        assert ticket["title"].startswith("一键求助：") and "孙丽华" in ticket["title"]
        assert ticket["titles"]["en"].startswith("SOS: ") and ticket["category_label"]

        alert = (
            await client.get(f"{stack.api_url}/api/v1/alerts/{ticket['alert_id']}", headers=headers)
        ).json()
        assert alert["kind"] == "wristband.sos" and alert["severity"] == "critical"
        assert alert["device_id"] == f"watch:{SUN}" and alert["ticket_id"] == ticket["id"]

        # The same alarm again attaches to the open alert: still one ticket.
        await send_once(
            "127.0.0.1", stack.edge_settings.watch_port, watch.alarm("sos"), expect_reply=True
        )
        admin = await stack.login(client, "admin")
        alerts = await poll(
            client, f"{stack.api_url}/api/v1/alerts?kind=wristband.sos", admin, until_total=1
        )
        for _ in range(100):
            current = (
                await client.get(f"{stack.api_url}/api/v1/alerts/{alert['id']}", headers=admin)
            ).json()
            if current["event_count"] == 2:
                break
            await _sleep()
        assert current["event_count"] == 2
        assert alerts["total"] == 1
        all_tickets = (await client.get(f"{stack.api_url}/api/v1/tickets", headers=admin)).json()
        assert all_tickets["total"] == 1

        # The device shows up with its last-seen time and state.
        device = (
            await client.get(f"{stack.api_url}/api/v1/devices/watch:{SUN}", headers=admin)
        ).json()
        assert device["last_seen_at"] is not None and device["registered"] is True


async def test_a_broken_frame_is_a_dead_letter_an_admin_can_read(stack: Stack) -> None:
    garbage = b"[3G*8800000101*0010*UD,not-a-frame-really]"
    await send_once("127.0.0.1", stack.edge_settings.watch_port, garbage, expect_reply=False)
    async with httpx.AsyncClient(timeout=10) as client:
        admin = await stack.login(client, "admin")
        letters = await poll(client, f"{stack.api_url}/api/v1/dead-letters", admin)
        letter = letters["items"][0]  # type: ignore[index]
        assert letter["protocol"] == "watch" and letter["reason"]
        assert "not-a-frame-really" in letter["raw_text"]


async def _sleep() -> None:
    await asyncio.sleep(0.1)
