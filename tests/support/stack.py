"""The hub, the edge and the API running against a given broker, for end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import httpx

from api.app import create_app
from api.server import ApiServer
from api.state import context_of
from community_hub_tools.demo.seed import DEMO_PASSWORD, seed_demo
from edge.gateway import EdgeGateway
from edge.settings import EdgeSettings
from hub.runtime import HubRuntime
from hub.settings import Settings
from tests.support.brokers import free_port


@dataclass
class Stack:
    settings: Settings
    edge_settings: EdgeSettings
    hub: HubRuntime
    edge: EdgeGateway
    api_url: str

    async def login(self, client: httpx.AsyncClient, username: str) -> dict[str, str]:
        response = await client.post(
            f"{self.api_url}/api/v1/auth/token",
            data={"username": username, "password": DEMO_PASSWORD},
        )
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


def stack_settings(
    data_dir: Path, mqtt_host: str, mqtt_port: int, **sections: dict[str, object]
) -> Settings:
    """The hub's settings; ``sections`` adds fields to sections (``ingest={"batch_ms": 20}``)."""
    values: dict[str, dict[str, object]] = {
        "mqtt": {
            "host": mqtt_host,
            "port": mqtt_port,
            "client_id": f"hub-test-{uuid4().hex[:8]}",
        },
        "api": {"port": free_port()},
        "ingest": {"batch_ms": 5},
    }
    for name, fields in sections.items():
        values[name] = {**values.get(name, {}), **fields}
    return Settings.model_validate({"data_dir": data_dir, **values})


def stack_edge_settings(settings: Settings, **extra: object) -> EdgeSettings:
    """The settings of an edge on free ports, forwarding to the hub's broker."""
    values: dict[str, object] = {
        "data_dir": settings.data_dir,
        "mqtt_host": settings.mqtt.host,
        "mqtt_port": settings.mqtt.port,
        "edge_host": "127.0.0.1",
        "watch_port": free_port(),
        "iw_port": free_port(),
        "ebike_port": free_port(),
        "ocpp_port": free_port(),
        "http_push_port": free_port(),
        **extra,
    }
    return EdgeSettings.model_validate(values)


@asynccontextmanager
async def running_stack(
    settings: Settings, edge_settings: EdgeSettings | None = None
) -> AsyncIterator[Stack]:
    edge_settings = edge_settings or stack_edge_settings(settings)
    hub = HubRuntime(settings)
    await hub.start()
    async with hub.db.write() as conn:
        await seed_demo(conn)
    edge = EdgeGateway(edge_settings)
    await edge.start()
    api = ApiServer(create_app(context_of(hub)), "127.0.0.1", settings.api.port)
    await api.start()
    assert await hub.bridge.wait_connected(10), "hub did not reach the broker"
    try:
        yield Stack(settings, edge_settings, hub, edge, f"http://127.0.0.1:{settings.api.port}")
    finally:
        await api.stop()
        await edge.stop()
        await hub.stop()


async def poll(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    *,
    until_total: int = 1,
    timeout_s: float = 15.0,
) -> dict[str, object]:
    """GET a list endpoint until it reports at least ``until_total`` items."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        response = await client.get(url, headers=headers)
        response.raise_for_status()
        body: dict[str, object] = response.json()
        total = body["total"]
        assert isinstance(total, int)
        if total >= until_total:
            return body
        if loop.time() > deadline:
            raise AssertionError(f"{url} still has {total} items after {timeout_s}s: {body}")
        await asyncio.sleep(0.1)
