"""A gateway outage reaches people, on the real pieces: Mosquitto, the edge, the hub.

A watch talks to the edge; the edge stops (its retained "offline"); the hub opens one
gateway.offline alert for the property manager and staff and says the watch is unknown
(gateway offline). The edge comes back: the alert clears. The edge's outbox report
says it is filling (a disk threshold no disk meets): a gateway.outbox_filling alert.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from api.server import ApiServer
from api.state import context_of
from community_hub_tools.demo.seed import seed_demo
from community_hub_tools.sim.watch import SimulatedWatch, send_once
from edge.gateway import EdgeGateway
from hub.runtime import HubRuntime
from tests.support.brokers import MosquittoProcess
from tests.support.stack import stack_edge_settings, stack_settings

SUN = "8800000101"
WATCH = f"watch:{SUN}"


async def _eventually(check: Callable[[], Awaitable[Any]], what: str, within_s: float = 15) -> Any:
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        found = await check()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {within_s}s: {what}")
        await asyncio.sleep(0.1)


async def test_an_edge_that_goes_away_and_fills_up_is_told_to_people(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    settings = stack_settings(tmp_path / "hub", mosquitto.host, mosquitto.port)
    edge_settings = stack_edge_settings(settings, edge_outbox_report_s=0.2)
    hub = HubRuntime(settings)
    await hub.start()
    async with hub.db.write() as conn:
        await seed_demo(conn)
    edge = EdgeGateway(edge_settings)
    await edge.start()
    api = ApiServer(create_app(context_of(hub)), "127.0.0.1", settings.api.port)
    await api.start()
    url = f"http://127.0.0.1:{settings.api.port}"
    try:
        assert await hub.bridge.wait_connected(10)
        async with httpx.AsyncClient(timeout=10) as client:
            manager = await _login(client, url, "manager")

            async def alerts(kind: str) -> list[dict[str, Any]]:
                found = await client.get(
                    f"{url}/api/v1/alerts", params={"kind": kind}, headers=manager
                )
                assert found.status_code == 200, found.text
                return list(found.json()["items"])

            async def watch() -> dict[str, Any]:
                found = await client.get(f"{url}/api/v1/devices/{WATCH}", headers=manager)
                assert found.status_code == 200, found.text
                return dict(found.json())

            await send_once(
                "127.0.0.1",
                edge_settings.watch_port,
                SimulatedWatch(SUN).heartbeat(),
                expect_reply=True,
            )
            await _eventually(lambda: _heard(watch), "the watch is heard through the edge")
            assert await alerts("gateway.offline") == []

            await edge.stop()
            [outage] = await _eventually(
                lambda: alerts("gateway.offline"), "the outage is an alert"
            )
            assert outage["status"] == "open"
            gone = await watch()
            assert (gone["online"], gone["availability_reason"]) == (None, "gateway_offline")
            assert [a["kind"] for a in await alerts("device.offline")] == []

            # Back, with a disk threshold no disk meets: the outage clears, and the
            # outbox report raises the other alert.
            edge = EdgeGateway(
                stack_edge_settings(
                    settings,
                    edge_outbox_report_s=0.2,
                    edge_disk_free_warn_bytes=2**62,
                    watch_port=edge_settings.watch_port,
                )
            )
            await edge.start()

            async def cleared() -> bool:
                return [a["status"] for a in await alerts("gateway.offline")] == ["cleared"]

            await _eventually(cleared, "the outage alert clears when the edge is back")
            [filling] = await _eventually(
                lambda: alerts("gateway.outbox_filling"), "the filling outbox is an alert"
            )
            assert filling["status"] == "open"
            assert "MB" in filling["titles"]["en"] and "网关" in filling["titles"]["zh-CN"]
    finally:
        await api.stop()
        await edge.stop()
        await hub.stop()


async def _heard(watch: Callable[[], Awaitable[dict[str, Any]]]) -> bool:
    return (await watch())["last_gateway_id"] is not None


async def _login(client: httpx.AsyncClient, url: str, username: str) -> dict[str, str]:
    from community_hub_tools.demo.seed import DEMO_PASSWORD

    response = await client.post(
        f"{url}/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
