"""Commands to devices: who may send which, validation, audit record, results and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from device_adapters.model import CommandResult, CommandStatus, DeviceFamily
from hub.commands import service
from hub.ingest.flows import Parsed, store_parsed
from hub.schema.deadletters import dead_letters
from hub.storage.db import Database
from tests.api.conftest import Login
from tests.support.hubdata import device_event

LOCK, CHARGER = "z2m:b1_101_front_door", "ocpp:CP-P1-01"


@pytest.fixture
async def seen(api_db: Database) -> None:
    """A gateway has heard from the lock and the charger, so commands can reach them."""
    parsed = Parsed(
        events=[
            device_event(LOCK, DeviceFamily.LOCK, "lock.locked"),
            device_event(CHARGER, DeviceFamily.CHARGER, "charger.heartbeat"),
        ]
    )
    async with api_db.write() as conn:
        await store_parsed(conn, parsed, datetime.now(UTC))


async def test_a_manager_unlocks_with_a_reason_and_it_is_recorded(
    client: httpx.AsyncClient, login: Login, seen: None
) -> None:
    headers = await login("manager")
    response = await client.post(
        f"/api/v1/devices/{LOCK}/commands",
        json={"kind": "lock.unlock", "reason": "resident locked out, ID checked", "ttl_s": 60},
        headers=headers,
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "pending" and body["gateway_id"] == "edge-test"
    assert body["reason"] == "resident locked out, ID checked"
    history = (await client.get(f"/api/v1/devices/{LOCK}/commands", headers=headers)).json()
    assert [c["id"] for c in history["items"]] == [body["id"]]


async def test_an_unlock_without_a_reason_names_the_field(
    client: httpx.AsyncClient, login: Login, seen: None
) -> None:
    response = await client.post(
        f"/api/v1/devices/{LOCK}/commands",
        json={"kind": "lock.unlock"},
        headers=await login("admin"),
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "reason"]


async def test_who_may_send_what(client: httpx.AsyncClient, login: Login, seen: None) -> None:
    staff = await login("staff")
    denied = await client.post(
        f"/api/v1/devices/{LOCK}/commands",
        json={"kind": "lock.unlock", "reason": "x"},
        headers=staff,
    )
    assert denied.status_code == 403 and "开锁或上锁" in denied.json()["detail"]
    allowed = await client.post(
        f"/api/v1/devices/{CHARGER}/commands",
        json={"kind": "charger.remote_start", "params": {"port": 1, "id_tag": "STAFF"}},
        headers=staff,
    )
    assert allowed.status_code == 202
    for username in ("resident.sun", "vol.wang"):
        response = await client.post(
            f"/api/v1/devices/{CHARGER}/commands",
            json={"kind": "charger.remote_stop", "params": {"port": 1}},
            headers=await login(username),
        )
        assert response.status_code == 403


async def test_a_command_must_fit_the_device(
    client: httpx.AsyncClient, login: Login, seen: None
) -> None:
    headers = await login("admin")
    wrong = await client.post(
        f"/api/v1/devices/{CHARGER}/commands",
        json={"kind": "lock.unlock", "reason": "test"},
        headers=headers,
    )
    assert wrong.status_code == 409 and "不适用" in wrong.json()["detail"]
    never_seen = await client.post(
        "/api/v1/devices/ebike:EB-B1-01/commands",
        json={"kind": "ebike.stop", "params": {"port": 1}},
        headers=headers,
    )
    assert never_seen.status_code == 409 and "尚无网关" in never_seen.json()["detail"]
    missing = await client.post(
        "/api/v1/devices/z2m:nope/commands", json={"kind": "lock.lock"}, headers=headers
    )
    assert missing.status_code == 404


async def test_results_are_recorded_and_final_ones_stay_final(
    client: httpx.AsyncClient, login: Login, seen: None, api_db: Database
) -> None:
    headers = await login("admin")
    created = (
        await client.post(
            f"/api/v1/devices/{LOCK}/commands", json={"kind": "lock.lock"}, headers=headers
        )
    ).json()
    now = datetime.now(UTC)
    results = [
        CommandResult(
            command_id=created["id"], device_id=LOCK, status=CommandStatus.ACCEPTED, at=now
        ),
        # A late duplicate report must not overwrite the final answer.
        CommandResult(
            command_id=created["id"], device_id=LOCK, status=CommandStatus.TIMED_OUT, at=now
        ),
    ]
    async with api_db.write() as conn:
        await store_parsed(conn, Parsed(results=[("edge-test", r) for r in results]), now)
    body = (await client.get(f"/api/v1/commands/{created['id']}", headers=headers)).json()
    assert body["status"] == "accepted" and body["result_at"] is not None


async def test_a_result_from_another_gateway_is_refused_and_kept(
    client: httpx.AsyncClient, login: Login, seen: None, api_db: Database
) -> None:
    """A lock bridge's account once reported a manager's unlock "accepted"."""
    headers = await login("manager")
    created = (
        await client.post(
            f"/api/v1/devices/{LOCK}/commands",
            json={"kind": "lock.unlock", "reason": "resident locked out"},
            headers=headers,
        )
    ).json()
    now = datetime.now(UTC)
    forged = CommandResult(
        command_id=created["id"], device_id=LOCK, status=CommandStatus.ACCEPTED, at=now
    )
    other_device = CommandResult(
        command_id=created["id"], device_id=CHARGER, status=CommandStatus.ACCEPTED, at=now
    )
    async with api_db.write() as conn:
        outcome = await store_parsed(
            conn, Parsed(results=[("zigbee2mqtt", forged), ("edge-test", other_device)]), now
        )
    assert outcome.command_results == 0 and outcome.dead_letters == 2
    body = (await client.get(f"/api/v1/commands/{created['id']}", headers=headers)).json()
    assert body["status"] == "pending" and body["result_at"] is None
    async with api_db.read() as conn:
        reasons = [
            r.reason
            for r in await conn.execute(sa.select(dead_letters.c.reason, dead_letters.c.gateway_id))
        ]
    assert any("through gateway 'edge-test'" in r and "zigbee2mqtt" in r for r in reasons)
    assert len(reasons) == 2


async def test_an_unregistered_device_gets_no_commands(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    stranger = "z2m:not_registered"
    async with api_db.write() as conn:
        await store_parsed(
            conn,
            Parsed(events=[device_event(stranger, DeviceFamily.LOCK, "lock.locked")]),
            datetime.now(UTC),
        )
    response = await client.post(
        f"/api/v1/devices/{stranger}/commands",
        json={"kind": "lock.lock"},
        headers=await login("admin"),
    )
    assert response.status_code == 409 and "尚未登记" in response.json()["detail"]


async def test_unsent_commands_expire_after_their_time_to_live(
    client: httpx.AsyncClient, login: Login, seen: None, api_db: Database
) -> None:
    headers = await login("admin")
    created = (
        await client.post(
            f"/api/v1/devices/{LOCK}/commands",
            json={"kind": "lock.lock", "ttl_s": 5},
            headers=headers,
        )
    ).json()
    async with api_db.write() as conn:
        assert await service.expire_unsent(conn, datetime.now(UTC)) == 0
        assert await service.expire_unsent(conn, datetime.now(UTC) + timedelta(seconds=6)) == 1
    body = (await client.get(f"/api/v1/commands/{created['id']}", headers=headers)).json()
    assert body["status"] == "expired"


async def test_a_manager_of_another_community_cannot_reach_these_devices_or_commands(
    client: httpx.AsyncClient, login: Login, seen: None, api_db: Database
) -> None:
    import sqlalchemy as sa

    from community_hub_tools.demo.seed import DEMO_PASSWORD
    from hub.schema.grid import communities
    from hub.users.models import Role
    from hub.users.service import create_user

    async with api_db.write() as conn:
        street_id = (await conn.execute(sa.select(communities.c.street_id))).scalars().first()
        other = await conn.execute(
            communities.insert().values(street_id=street_id, name="Another community")
        )
        await create_user(
            conn,
            username="manager.other",
            password=DEMO_PASSWORD,
            full_name="Manager elsewhere",
            role=Role.PROPERTY_MANAGER,
            community_id=other.inserted_primary_key[0],
        )
    ours = await client.post(
        f"/api/v1/devices/{LOCK}/commands",
        json={"kind": "lock.unlock", "reason": "resident locked out, ID checked"},
        headers=await login("manager"),
    )
    assert ours.status_code == 202, ours.text

    stranger = await login("manager.other")
    unlock = await client.post(
        f"/api/v1/devices/{LOCK}/commands",
        json={"kind": "lock.unlock", "reason": "let me in"},
        headers=stranger,
    )
    assert unlock.status_code == 404, unlock.text
    history = await client.get(f"/api/v1/devices/{LOCK}/commands", headers=stranger)
    assert history.status_code == 404
    one = await client.get(f"/api/v1/commands/{ours.json()['id']}", headers=stranger)
    assert one.status_code == 404
