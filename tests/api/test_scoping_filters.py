"""The list filters of devices, tickets and alerts: within the caller's scope, with a
clear 422 for a value that cannot be a filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from device_adapters.model import DeviceFamily
from hub.ingest.flows import store_batch
from hub.schema.devices import devices
from hub.schema.grid import buildings, grids
from hub.schema.tickets import tickets
from hub.storage.db import Database
from tests.api.people import Login
from tests.support.hubdata import device_event, wristband_event

SUN, WU = "watch:8800000101", "watch:8800000301"  # building 1 (grid 1), building 3 (grid 2)
PILE, LOCK_B1 = "ebike:EB-B1-01", "z2m:b1_101_front_door"  # building 1


@pytest.fixture
async def place(api_db: Database) -> dict[str, Any]:
    """An SOS in each grid and a charger fault in building 1; known batteries and
    reachability; the charger's ticket overdue. Returns grid and building ids."""
    now = datetime.now(UTC)
    async with api_db.write() as conn:
        await store_batch(
            conn,
            [
                wristband_event("8800000101", "wristband.sos"),
                wristband_event("8800000301", "wristband.sos"),
                device_event(PILE, DeviceFamily.CHARGER, "charger.fault", {"port": 1}),
            ],
            [],
            now,
        )
        for device_id, online, battery in ((SUN, True, 10), (WU, False, 50), (LOCK_B1, None, 5)):
            await conn.execute(
                devices.update()
                .where(devices.c.id == device_id)
                .values(online=online, battery_pct=battery)
            )
        grid_ids = list((await conn.execute(sa.select(grids.c.id).order_by(grids.c.id))).scalars())
        building_ids = list(
            (await conn.execute(sa.select(buildings.c.id).order_by(buildings.c.id))).scalars()
        )
        repair = (
            await conn.execute(
                sa.select(tickets.c.id).where(tickets.c.category == "facility_repair")
            )
        ).scalar_one()
        await conn.execute(
            tickets.update()
            .where(tickets.c.id == repair)
            .values(response_due_at=now - timedelta(minutes=5))
        )
    return {"grids": grid_ids, "buildings": building_ids, "repair": repair}


async def _ids(
    client: httpx.AsyncClient, headers: dict[str, str], url: str, **params: Any
) -> set[Any]:
    response = await client.get(url, headers=headers, params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return {item["id"] for item in body["items"]}


async def test_devices_filter_by_place_reachability_battery_and_fault(
    client: httpx.AsyncClient, login: Login, place: dict[str, Any]
) -> None:
    staff = await login("staff")
    b1, b3 = place["buildings"][0], place["buildings"][2]
    in_b1 = await _ids(client, staff, "/api/v1/devices", building_id=b1)
    assert {SUN, PILE, LOCK_B1, "hik:gate-north"} <= in_b1 and WU not in in_b1
    assert WU in await _ids(client, staff, "/api/v1/devices", building_id=b3)
    grid2 = await _ids(client, staff, "/api/v1/devices", grid_id=place["grids"][1])
    assert WU in grid2 and SUN not in grid2 and PILE not in grid2
    assert SUN in await _ids(client, staff, "/api/v1/devices", online="true")
    offline = await _ids(client, staff, "/api/v1/devices", online="false")
    assert WU in offline and SUN not in offline and LOCK_B1 not in offline  # never reported
    assert await _ids(client, staff, "/api/v1/devices", battery_below=20) == {SUN, LOCK_B1}
    assert await _ids(client, staff, "/api/v1/devices", battery_below=10) == {LOCK_B1}
    # Staff count the SOS wristbands as faulted (critical alerts); the charger's fault too.
    assert await _ids(client, staff, "/api/v1/devices", faulted="true") == {SUN, WU, PILE}
    assert PILE not in await _ids(client, staff, "/api/v1/devices", faulted="false")
    # The property manager knows of the charger's fault only.
    manager = await login("manager")
    assert await _ids(client, manager, "/api/v1/devices", faulted="true") == {PILE}
    # Filters narrow the scope, never widen it: vol.wang sees grid 2 only.
    wang = await login("vol.wang")
    assert await _ids(client, wang, "/api/v1/devices", building_id=b1) == set()
    assert await _ids(client, wang, "/api/v1/devices", battery_below=20) == set()
    # Pagination is as before.
    page = await client.get(
        "/api/v1/devices", headers=staff, params={"building_id": b1, "limit": 2, "offset": 1}
    )
    assert page.json()["total"] == len(in_b1) and len(page.json()["items"]) == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"battery_below": 0}, "battery_below"),
        ({"battery_below": 101}, "battery_below"),
        ({"online": "maybe"}, "online"),
        ({"faulted": "2"}, "faulted"),
        ({"building_id": 0}, "building_id"),
        ({"grid_id": "north"}, "grid_id"),
    ],
)
async def test_a_bad_device_filter_is_a_422_naming_it(
    client: httpx.AsyncClient, login: Login, params: dict[str, Any], field: str
) -> None:
    response = await client.get("/api/v1/devices", headers=await login("staff"), params=params)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["query", field]]


async def test_tickets_filter_by_grid_building_and_overdue(
    client: httpx.AsyncClient, login: Login, place: dict[str, Any]
) -> None:
    staff = await login("staff")
    everything = await _ids(client, staff, "/api/v1/tickets")
    assert len(everything) == 3
    grid1 = await _ids(client, staff, "/api/v1/tickets", grid_id=place["grids"][0])
    assert len(grid1) == 2 and place["repair"] in grid1
    b1 = await _ids(client, staff, "/api/v1/tickets", building_id=place["buildings"][0])
    assert b1 == grid1  # the SOS through its household, the repair through its pile
    assert len(await _ids(client, staff, "/api/v1/tickets", building_id=place["buildings"][2])) == 1
    assert await _ids(client, staff, "/api/v1/tickets", building_id=place["buildings"][1]) == set()
    assert await _ids(client, staff, "/api/v1/tickets", overdue="true") == {place["repair"]}
    assert await _ids(client, staff, "/api/v1/tickets", overdue="false") == everything - {
        place["repair"]
    }
    # The manager's tickets are the property's: the repair, overdue.
    manager = await login("manager")
    assert await _ids(client, manager, "/api/v1/tickets", overdue="true") == {place["repair"]}
    assert await _ids(client, manager, "/api/v1/tickets", grid_id=place["grids"][1]) == set()
    for params in ({"overdue": "soon"}, {"grid_id": 0}, {"building_id": -3}):
        response = await client.get("/api/v1/tickets", headers=staff, params=params)
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["loc"] == ["query", next(iter(params))]


async def test_alerts_filter_by_kind_and_opening_time(
    client: httpx.AsyncClient, login: Login, place: dict[str, Any]
) -> None:
    staff = await login("staff")
    now = datetime.now(UTC)
    sos = await _ids(client, staff, "/api/v1/alerts", kind="wristband.sos")
    assert len(sos) == 2
    assert len(await _ids(client, staff, "/api/v1/alerts")) == 3
    before = (now - timedelta(hours=2)).isoformat()  # before the fixture's alerts opened
    assert len(await _ids(client, staff, "/api/v1/alerts", since=before)) == 3
    assert await _ids(client, staff, "/api/v1/alerts", until=before) == set()
    earlier = (now - timedelta(hours=3)).isoformat()
    assert (
        len(await _ids(client, staff, "/api/v1/alerts", since=earlier, until=now.isoformat())) == 3
    )
    assert await _ids(client, staff, "/api/v1/alerts", since=now.isoformat()) == set()
    for params, field in (
        ({"since": "2026-11-21T10:00:00"}, "since"),  # no UTC offset
        ({"until": "yesterday"}, "until"),
        ({"since": now.isoformat(), "until": earlier}, "until"),  # until before since
        ({"kind": "SOS!"}, "kind"),
    ):
        response = await client.get("/api/v1/alerts", headers=staff, params=params)
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["loc"] == ["query", field], response.text
