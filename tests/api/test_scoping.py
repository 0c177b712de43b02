"""Each role sees what it must and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from community_hub_tools.demo.seed import DEVICES, WEARERS
from hub.ingest.flows import store_batch
from hub.storage.db import Database
from tests.api.people import Login
from tests.support.hubdata import volunteer_on_duty_for, wristband_event

SUN, WU = "8800000101", "8800000301"  # grid 1 and grid 2


@pytest.fixture
async def two_sos(api_db: Database) -> dict[str, str]:
    """An SOS in each grid; returns the username each ticket went to."""
    now = datetime.now(UTC)
    async with api_db.write() as conn:
        await store_batch(
            conn,
            [wristband_event(SUN, "wristband.sos"), wristband_event(WU, "wristband.sos")],
            [],
            now,
        )
    return {
        SUN: await volunteer_on_duty_for(api_db, SUN, now),
        WU: await volunteer_on_duty_for(api_db, WU, now),
    }


async def _tickets(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, object]]:
    response = await client.get("/api/v1/tickets", headers=headers)
    assert response.status_code == 200
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_a_volunteer_sees_only_tickets_assigned_to_them(
    client: httpx.AsyncClient, login: Login, two_sos: dict[str, str]
) -> None:
    assert two_sos[WU] == "vol.wang"
    wang = await _tickets(client, await login("vol.wang"))
    assert len(wang) == 1 and "吴美芳" in str(wang[0]["title"])
    grid1 = await _tickets(client, await login(two_sos[SUN]))
    assert len(grid1) == 1 and "孙丽华" in str(grid1[0]["title"])
    # The backup volunteer was not assigned anything.
    assert await _tickets(client, await login("vol.zhao")) == []
    # Someone else's ticket is not found, rather than forbidden: its existence is not revealed.
    other = await client.get(f"/api/v1/tickets/{grid1[0]['id']}", headers=await login("vol.wang"))
    assert other.status_code == 404


async def test_a_volunteer_sees_the_alert_behind_their_ticket(
    client: httpx.AsyncClient, login: Login, two_sos: dict[str, str]
) -> None:
    headers = await login("vol.wang")
    alerts = (await client.get("/api/v1/alerts", headers=headers)).json()["items"]
    assert [a["device_id"] for a in alerts] == [f"watch:{WU}"]
    assert alerts[0]["ticket_id"] is not None and alerts[0]["status"] == "open"
    ticket = (await client.get(f"/api/v1/tickets/{alerts[0]['ticket_id']}", headers=headers)).json()
    assert [entry["action"] for entry in ticket["log"]] == ["registered", "dispatched"]


async def test_community_roles_see_the_whole_community(
    client: httpx.AsyncClient, login: Login, two_sos: dict[str, str]
) -> None:
    for username in ("manager", "staff", "admin"):
        headers = await login(username)
        # SOS tickets are elderly care: not the property manager's (test_scoping_matrix).
        assert len(await _tickets(client, headers)) == (0 if username == "manager" else 2)
        devices = (await client.get("/api/v1/devices", headers=headers)).json()
        assert devices["total"] == len(WEARERS) + 1 + len(DEVICES)  # + the IW wearer


async def test_a_resident_sees_only_their_household(
    client: httpx.AsyncClient, login: Login, two_sos: dict[str, str]
) -> None:
    headers = await login("resident.sun")
    devices = (await client.get("/api/v1/devices", headers=headers)).json()["items"]
    assert sorted(d["id"] for d in devices) == [f"watch:{SUN}", "z2m:b1_101_front_door"]
    tickets = await _tickets(client, headers)
    assert len(tickets) == 1 and "孙丽华" in str(tickets[0]["title"])
    response = await client.get(f"/api/v1/devices/watch:{WU}", headers=headers)
    assert response.status_code == 404


async def test_dead_letters_are_for_admins_only(client: httpx.AsyncClient, login: Login) -> None:
    assert (
        await client.get("/api/v1/dead-letters", headers=await login("admin"))
    ).status_code == 200
    response = await client.get("/api/v1/dead-letters", headers=await login("manager"))
    assert response.status_code == 403 and "管理员" in response.json()["detail"]


async def test_everyone_in_the_community_sees_charger_availability(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    from device_adapters.model import DeviceFamily
    from tests.support.hubdata import device_event

    batch = [
        device_event(
            "ebike:EB-B1-01",
            DeviceFamily.CHARGER,
            "charger.port_status",
            {"port": p, "status": s, "availability": a},
        )
        for p, s, a in ((1, "idle", "available"), (2, "charging", "charging"))
    ] + [device_event("ebike:EB-B1-01", DeviceFamily.CHARGER, "charger.fault", {"port": 3})]
    async with api_db.write() as conn:
        await store_batch(conn, batch, [], datetime.now(UTC))
    for username in ("resident.sun", "vol.zhao", "manager"):
        chargers = (
            await client.get("/api/v1/chargers/availability", headers=await login(username))
        ).json()
        assert len(chargers) == 4, username
        pile = next(c for c in chargers if c["device_id"] == "ebike:EB-B1-01")
        assert [(p["port"], p["availability"]) for p in pile["ports"]] == [
            (1, "available"),
            (2, "charging"),
            (3, "out_of_order"),
        ]
        assert pile["summary"]["available"] == 1 and pile["summary"]["out_of_order"] == 1
        # Chargers that have said nothing yet are listed with no ports, not hidden.
        assert all(c["ports"] == [] for c in chargers if c["device_id"] != "ebike:EB-B1-01")
