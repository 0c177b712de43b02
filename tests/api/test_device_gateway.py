"""Moving a device to another gateway: an admin's act through the API, and what it changes.

A device is believed only from the gateway it is bound to (docs/trust.md). When it is
re-homed (a new edge box in the building), its reports from the new gateway are dead
letters until an admin binds it there; after that, the old gateway's are.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import sqlalchemy as sa

from device_adapters.model import DeviceEvent, DeviceFamily
from hub.ingest.flows import Parsed, store_parsed
from hub.schema.deadletters import dead_letters
from hub.schema.events import events
from hub.storage.db import Database
from tests.api.conftest import Login
from tests.support.hubdata import device_event

LOCK = "z2m:b1_101_front_door"


def _from(gateway: str) -> DeviceEvent:
    return device_event(LOCK, DeviceFamily.LOCK, "lock.locked").model_copy(
        update={"gateway_id": gateway}
    )


async def _refusals(db: Database, gateway: str) -> int:
    async with db.read() as conn:
        query = sa.select(sa.func.count()).where(
            dead_letters.c.device_id == LOCK,
            dead_letters.c.gateway_id == gateway,
            dead_letters.c.reason.contains("may not speak for it"),
        )
        return int((await conn.execute(query)).scalar_one())


async def _report(db: Database, gateway: str) -> bool:
    """Store one report of the lock from ``gateway``; whether it was believed."""
    event = _from(gateway)
    refused_before = await _refusals(db, gateway)
    async with db.write() as conn:
        await store_parsed(conn, Parsed(events=[event]), datetime.now(UTC))
    async with db.read() as conn:
        query = sa.select(sa.func.count()).where(events.c.event_id == event.event_id)
        stored = int((await conn.execute(query)).scalar_one())
    refused = await _refusals(db, gateway) - refused_before
    assert stored + refused == 1, "a report is either stored or kept as refused"
    return stored == 1


async def test_an_admin_moves_a_device_and_only_the_new_gateway_is_believed(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    assert await _report(api_db, "edge-old")  # the first gateway to report it owns it
    assert not await _report(api_db, "edge-new")  # the new box: refused, kept
    admin = await login("admin")
    before = await client.get(f"/api/v1/devices/{LOCK}", headers=admin)
    assert before.json()["gateway_id"] == "edge-old"

    moved = await client.put(
        f"/api/v1/devices/{LOCK}/gateway", headers=admin, json={"gateway_id": "edge-new"}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["gateway_id"] == "edge-new"
    assert await _report(api_db, "edge-new")
    assert not await _report(api_db, "edge-old")


async def test_unbinding_lets_the_next_gateway_claim_the_device(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    assert await _report(api_db, "edge-old")
    admin = await login("admin")
    unbound = await client.put(
        f"/api/v1/devices/{LOCK}/gateway", headers=admin, json={"gateway_id": None}
    )
    assert unbound.status_code == 200 and unbound.json()["gateway_id"] is None
    assert await _report(api_db, "edge-new")
    assert not await _report(api_db, "edge-old")


async def test_only_an_admin_moves_a_device_and_bad_requests_are_named(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    assert await _report(api_db, "edge-old")
    url = f"/api/v1/devices/{LOCK}/gateway"
    for who in ("manager", "staff", "vol.wang"):
        refused = await client.put(url, headers=await login(who), json={"gateway_id": "edge-x"})
        assert refused.status_code == 403, (who, refused.text)
    admin = await login("admin")
    missing = await client.put(
        "/api/v1/devices/z2m:nowhere/gateway", headers=admin, json={"gateway_id": "edge-x"}
    )
    assert missing.status_code == 404 and "z2m:nowhere" in missing.json()["detail"]
    for body, field in (
        ({"gateway_id": "edge x/../#"}, "gateway_id"),
        ({"gateway_id": "e" * 65}, "gateway_id"),
        ({}, "gateway_id"),
        ({"gateway_id": "edge-x", "extra": 1}, "extra"),
    ):
        bad = await client.put(url, headers=admin, json=body)
        assert bad.status_code == 422, (body, bad.text)
        assert bad.json()["detail"][0]["loc"][-1] == field, (body, bad.text)
    # Nothing of that moved it.
    assert await _report(api_db, "edge-old")
