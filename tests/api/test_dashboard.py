"""GET /api/v1/dashboard, a building's devices and a device's history.

The seeded demo community gets known reachability, batteries, alerts and
tickets; the dashboard must count exactly those, for the right people, and
leave duress alarms out of what a property manager sees.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from api.app import create_app
from api.routes import dashboard as dashboard_routes
from api.state import ApiContext
from community_hub_tools.demo.seed import COMMUNITY_NAME
from device_adapters.model import DeviceFamily, Severity
from hub.alerts.service import open_or_attach_kind
from hub.dashboard.service import RESOLVING, RESPONDING, day_bounds
from hub.devices.service import device_context, register_device
from hub.ingest.flows import store_batch
from hub.notifications.base import NotificationHub
from hub.schema.alerts import alerts
from hub.schema.devices import devices
from hub.schema.grid import buildings, communities, grids, streets
from hub.schema.tickets import tickets
from hub.settings import Settings
from hub.storage.db import Database
from hub.tickets import limits
from tests.api.people import Login
from tests.support.hubdata import device_event, wristband_event

SHANGHAI = ZoneInfo("Asia/Shanghai")
SUN, ZHOU, WU = "watch:8800000101", "watch:8800000202", "watch:8800000301"
GATE_NORTH, GATE_SOUTH = "hik:gate-north", "hik:gate-south"  # buildings 1 and 3
LOCK_B1, LOCK_B2 = "z2m:b1_101_front_door", "tuya:bf3a1c2d4e5f6a7b8c"
EBIKE_B1, CHARGER_B2 = "ebike:EB-B1-01", "ocpp:CP-P1-01"
ELSEWHERE = "hik:gate-elsewhere"  # a gate of another community


@pytest.fixture
async def client(api_db: Database, notifier: NotificationHub) -> AsyncIterator[httpx.AsyncClient]:
    """The app, with the dashboard's router even before api/app.py includes it."""
    app = create_app(ApiContext(db=api_db, settings=Settings(), notifier=notifier))
    if not any(getattr(route, "path", "") == "/api/v1/dashboard" for route in app.routes):
        app.include_router(dashboard_routes.router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as c:
        yield c


async def _community_id(conn: AsyncConnection) -> int:
    return int(
        (
            await conn.execute(
                sa.select(communities.c.id).where(communities.c.name == COMMUNITY_NAME)
            )
        ).scalar_one()
    )


async def _another_community(conn: AsyncConnection) -> int:
    """A second community with one building and one gate; returns its id."""
    street = (await conn.execute(streets.insert().values(name="Other Street"))).inserted_primary_key
    assert street is not None
    community = (
        await conn.execute(
            communities.insert().values(street_id=street[0], name="Elsewhere", timezone="UTC")
        )
    ).inserted_primary_key
    assert community is not None
    grid = (
        await conn.execute(grids.insert().values(community_id=community[0], name="Grid X"))
    ).inserted_primary_key
    assert grid is not None
    building = (
        await conn.execute(buildings.insert().values(grid_id=grid[0], name="Building X"))
    ).inserted_primary_key
    assert building is not None
    await register_device(
        conn,
        device_id=ELSEWHERE,
        family=DeviceFamily.DOOR_ACCESS.value,
        protocol="hikvision_acs",
        name="Gate elsewhere",
        building_id=int(building[0]),
    )
    return int(community[0])


async def _alert(
    conn: AsyncConnection,
    device_id: str,
    kind: str,
    severity: Severity,
    at: datetime,
    *,
    status: str = "open",
    silent: bool = False,
) -> int:
    ctx = await device_context(conn, device_id)
    assert ctx is not None
    outcome = await open_or_attach_kind(
        conn,
        device_id=device_id,
        kind=kind,
        severity=severity,
        at=at,
        ctx=ctx,
        summary=f"{kind} at {device_id}",
        silent=silent,
    )
    if status != "open":
        await conn.execute(
            alerts.update().where(alerts.c.id == outcome.alert_id).values(status=status)
        )
    return outcome.alert_id


async def _ticket(conn: AsyncConnection, community_id: int, status: str, **values: Any) -> None:
    now = datetime.now(UTC)
    await conn.execute(
        tickets.insert().values(
            title=f"a {status} ticket",
            category="general",
            status=status,
            priority="normal",
            source="staff",
            community_id=community_id,
            created_at=values.pop("created_at", now - timedelta(hours=1)),
            updated_at=now,
            **values,
        )
    )


def _local_noon(days_ago: int, now: datetime) -> datetime:
    day = now.astimezone(SHANGHAI).date() - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, 12, tzinfo=SHANGHAI).astimezone(UTC)


@pytest.fixture
async def known(api_db: Database) -> dict[str, int]:
    """Reachability, batteries, alerts and tickets whose counts the tests know."""
    now = datetime.now(UTC)
    async with api_db.write() as conn:
        community = await _community_id(conn)
        other = await _another_community(conn)
        for device_id, online, battery in (
            (SUN, True, 10),
            (GATE_NORTH, True, None),
            (LOCK_B1, False, 15),
            (ZHOU, None, 20),  # 20% is not low
            (LOCK_B2, False, 80),
            (ELSEWHERE, True, 5),
        ):
            await conn.execute(
                devices.update()
                .where(devices.c.id == device_id)
                .values(online=online, battery_pct=battery)
            )
        await conn.execute(
            devices.update()
            .where(devices.c.id == CHARGER_B2)
            .values(
                state={
                    "ports": {
                        "1": {"availability": "available"},
                        "2": {"availability": "out_of_order"},
                    }
                }
            )
        )
        # Today: an SOS (faulted), a low battery (not a fault), a duress alarm (silent).
        await _alert(conn, SUN, "wristband.sos", Severity.CRITICAL, now)
        await _alert(conn, LOCK_B1, "device.low_battery", Severity.LOW, now)
        await _alert(conn, GATE_SOUTH, "door.duress", Severity.CRITICAL, now, silent=True)
        # Three days ago: smoke (cleared since), a tamper (acknowledged: still a fault), a fall.
        three = _local_noon(3, now)
        await _alert(conn, EBIKE_B1, "charger.smoke", Severity.CRITICAL, three, status="cleared")
        await _alert(conn, LOCK_B2, "lock.tamper", Severity.HIGH, three, status="acknowledged")
        await _alert(conn, WU, "wristband.fall", Severity.CRITICAL, three, status="cleared")
        # Twenty days ago: outside the charts.
        await _alert(
            conn, ZHOU, "wristband.fall", Severity.CRITICAL, _local_noon(20, now), status="cleared"
        )
        await _alert(conn, ELSEWHERE, "door.forced_open", Severity.HIGH, now)

        # Open tickets, by their nearest running limit.
        m = timedelta(minutes=1)
        await _ticket(
            conn,
            community,
            "dispatched",
            response_due_at=now + 120 * m,
            resolve_due_at=now + 1440 * m,
        )  # on time
        await _ticket(
            conn,
            community,
            "dispatched",
            response_due_at=now + 10 * m,
            resolve_due_at=now + 600 * m,
        )  # due soon
        await _ticket(
            conn, community, "accepted", response_due_at=now - 60 * m, resolve_due_at=now + 180 * m
        )  # on time: accepted, only resolve runs
        await _ticket(conn, community, "in_progress", resolve_due_at=now - 5 * m)  # overdue
        await _ticket(
            conn, community, "registered", response_due_at=now - m, resolve_due_at=now + 600 * m
        )  # overdue
        await _ticket(conn, community, "resolved", resolve_due_at=now - 60 * m)  # not running
        await _ticket(conn, community, "accepted")  # no limit
        await _ticket(
            conn, community, "dispatched", response_due_at=now - m, confidential=True
        )  # overdue, for staff only
        await _ticket(conn, other, "dispatched", response_due_at=now - m)  # elsewhere

        # Closed tickets: yesterday 1 h, 2 h, 6 h (+50 h confidential), the day before 3 h, 5 h.
        for days_ago, hours, confidential in (
            (1, 1, False),
            (1, 2, False),
            (1, 6, False),
            (1, 50, True),
            (2, 3, False),
            (2, 5, False),
            (30, 100, False),
        ):
            closed = _local_noon(days_ago, now)
            await _ticket(
                conn,
                community,
                "closed",
                created_at=closed - timedelta(hours=hours),
                closed_at=closed,
                confidential=confidential,
            )
        await _ticket(
            conn,
            other,
            "closed",
            created_at=_local_noon(1, now) - timedelta(hours=9),
            closed_at=_local_noon(1, now),
        )
    return {"community": community, "other": other}


async def _dashboard(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/api/v1/dashboard", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _building(body: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [b for b in body["buildings"] if b["name"] == name]
    figures = dict(found)
    for key in ("building_id", "name", "grid_id", "grid_name"):
        figures.pop(key)
    return figures


def _per_day(body: dict[str, Any], days_ago: int) -> dict[str, int]:
    days = body["alerts_per_day"]
    return dict(days[len(days) - 1 - days_ago]["by_kind"])


async def test_staff_see_exact_counts_of_their_community(
    client: httpx.AsyncClient, login: Login, known: dict[str, int]
) -> None:
    body = await _dashboard(client, await login("staff"))
    assert body["community_id"] == known["community"]
    assert body["timezone"] == "Asia/Shanghai"
    assert body["timezone_label"] == "北京时间"  # as a reader names it, in their language
    assert [b["name"] for b in body["buildings"]] == [f"{n}号楼" for n in (1, 2, 3, 4)]
    assert _building(body, "1号楼") == {
        "devices": 4,
        "online": 2,
        "offline": 1,
        "unknown": 1,
        "low_battery": 2,
        "faulted": 1,
    }
    # The charger's port 2 is out of order; the lock's tamper alert is acknowledged, not cleared.
    assert _building(body, "2号楼") == {
        "devices": 4,
        "online": 0,
        "offline": 1,
        "unknown": 3,
        "low_battery": 0,
        "faulted": 2,
    }
    assert _building(body, "3号楼") == {  # the duress alarm at the south gate
        "devices": 3,
        "online": 0,
        "offline": 0,
        "unknown": 3,
        "low_battery": 0,
        "faulted": 1,
    }
    assert _building(body, "4号楼") == {
        "devices": 2,
        "online": 0,
        "offline": 0,
        "unknown": 2,
        "low_battery": 0,
        "faulted": 0,
    }

    active = body["active_alerts"]
    assert body["active_alerts_total"] == 4
    assert {(a["device_id"], a["kind"], a["status"]) for a in active} == {
        (SUN, "wristband.sos", "open"),
        (LOCK_B1, "device.low_battery", "open"),
        (GATE_SOUTH, "door.duress", "open"),
        (LOCK_B2, "lock.tamper", "acknowledged"),
    }
    assert active[-1]["kind"] == "lock.tamper"  # the oldest last
    sos = next(a for a in active if a["kind"] == "wristband.sos")
    assert sos["building_name"] == "1号楼" and sos["device_name"] == "孙丽华的手环"
    assert next(a for a in active if a["kind"] == "door.duress")["silent"] is True

    assert body["tickets_by_limit"] == {
        "open": 7,
        "on_time": 2,
        "due_soon": 1,
        "overdue": 3,
        "without_limit": 1,
        "due_soon_minutes": 30,
    }

    days = body["alerts_per_day"]
    assert len(days) == 14 and days[-1]["date"] == body["last_day"]
    assert date.fromisoformat(days[0]["date"]) == date.fromisoformat(body["last_day"]) - timedelta(
        days=13
    )
    assert _per_day(body, 0) == {"wristband.sos": 1, "device.low_battery": 1, "door.duress": 1}
    assert _per_day(body, 3) == {"charger.smoke": 1, "lock.tamper": 1, "wristband.fall": 1}
    assert sum(d["total"] for d in days) == 6  # nothing from 20 days ago, nor elsewhere
    assert set(body["alert_kinds"]) == {
        "wristband.sos",
        "device.low_battery",
        "door.duress",
        "charger.smoke",
        "lock.tamper",
        "wristband.fall",
    }

    close = body["time_to_close"]
    by_day = {d["date"]: d for d in close["days"]}
    yesterday = days[-2]["date"]
    before = days[-3]["date"]
    assert by_day[yesterday] == {"date": yesterday, "closed": 4, "median_hours": 4.0}
    assert by_day[before] == {"date": before, "closed": 2, "median_hours": 4.0}
    assert close["closed"] == 6 and close["median_hours"] == 4.0  # 1, 2, 3, 5, 6, 50 h
    others = [d for d in close["days"] if d["date"] not in (yesterday, before)]
    assert all(d["closed"] == 0 and d["median_hours"] is None for d in others)


async def test_a_property_manager_never_sees_duress_alarms(
    client: httpx.AsyncClient, login: Login, known: dict[str, int]
) -> None:
    body = await _dashboard(client, await login("manager"))
    # Nor elderly care: the SOS and the falls are not the property's (docs/auth.md).
    assert body["active_alerts_total"] == 2
    assert {a["kind"] for a in body["active_alerts"]} == {"device.low_battery", "lock.tamper"}
    assert _building(body, "3号楼")["faulted"] == 0
    assert _building(body, "1号楼")["faulted"] == 0  # the SOS is no device fault
    assert _per_day(body, 0) == {"device.low_battery": 1}
    assert _per_day(body, 3) == {"charger.smoke": 1, "lock.tamper": 1}
    assert "door.duress" not in body["alert_kinds"]
    # The confidential ticket a duress alarm opens is left out too.
    assert body["tickets_by_limit"]["open"] == 6 and body["tickets_by_limit"]["overdue"] == 2
    close = body["time_to_close"]
    assert close["days"][-2]["closed"] == 3 and close["days"][-2]["median_hours"] == 2.0
    assert close["median_hours"] == 3.0  # 1, 2, 3, 5, 6 h


async def test_a_duress_alarm_from_a_gate_stays_hidden_from_the_manager(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    """Through the real ingest path: the alert, its confidential ticket and the event."""
    async with api_db.write() as conn:
        await store_batch(
            conn,
            [device_event(GATE_SOUTH, DeviceFamily.DOOR_ACCESS, "door.duress", {"card_no": "1"})],
            [],
            datetime.now(UTC),
        )
    staff = await _dashboard(client, await login("staff"))
    assert [a["kind"] for a in staff["active_alerts"]] == ["door.duress"]
    assert staff["tickets_by_limit"]["open"] == 1
    manager_headers = await login("manager")
    manager = await _dashboard(client, manager_headers)
    assert manager["active_alerts"] == [] and manager["active_alerts_total"] == 0
    assert manager["tickets_by_limit"]["open"] == 0
    assert all(day["total"] == 0 for day in manager["alerts_per_day"])

    url = f"/api/v1/devices/{GATE_SOUTH}/events"
    seen_by_staff = (await client.get(url, headers=await login("staff"))).json()["items"]
    assert [e["kind"] for e in seen_by_staff] == ["door.duress"]
    seen_by_manager = await client.get(url, headers=manager_headers)
    assert seen_by_manager.status_code == 200 and seen_by_manager.json()["items"] == []


async def test_an_sos_shows_up_with_its_ticket(
    client: httpx.AsyncClient, login: Login, sos: tuple[int, str]
) -> None:
    ticket_id, _volunteer = sos
    # An SOS is elderly care: on the staff's dashboard, not the property manager's.
    manager = await _dashboard(client, await login("manager"))
    assert manager["active_alerts"] == [] and manager["tickets_by_limit"]["open"] == 0
    body = await _dashboard(client, await login("staff"))
    (alert,) = body["active_alerts"]
    assert alert["kind"] == "wristband.sos" and alert["ticket_id"] == ticket_id
    assert alert["building_name"] == "1号楼"
    assert _per_day(body, 0) == {"wristband.sos": 1}
    assert body["tickets_by_limit"]["open"] == 1
    assert body["tickets_by_limit"]["on_time"] + body["tickets_by_limit"]["due_soon"] == 1
    assert _building(body, "1号楼")["faulted"] == 1


@pytest.mark.parametrize("username", ["vol.li", "resident.sun"])
async def test_volunteers_and_residents_may_not_have_the_dashboard(
    client: httpx.AsyncClient, login: Login, username: str
) -> None:
    headers = await login(username)
    for url in ("/api/v1/dashboard", "/api/v1/dashboard/buildings/1/devices"):
        response = await client.get(url, headers=headers)
        assert response.status_code == 403, response.text
        # Said in the community's language (no Accept-Language): the roles in words.
        assert "物业经理" in response.json()["detail"]


async def test_without_a_login_it_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/dashboard")).status_code == 401


async def test_managers_see_their_own_community_only(
    client: httpx.AsyncClient, login: Login, known: dict[str, int]
) -> None:
    headers = await login("manager")
    other = await client.get(
        "/api/v1/dashboard", params={"community_id": known["other"]}, headers=headers
    )
    assert other.status_code == 403
    own = await client.get(
        "/api/v1/dashboard", params={"community_id": known["community"]}, headers=headers
    )
    assert own.status_code == 200
    assert all(b["name"] != "Building X" for b in own.json()["buildings"])


async def test_an_admin_sees_one_community_or_all(
    client: httpx.AsyncClient, login: Login, known: dict[str, int]
) -> None:
    headers = await login("admin")
    everything = await _dashboard(client, headers)
    assert everything["community_id"] is None and everything["timezone"] == "UTC"
    assert everything["timezone_label"] == "UTC"
    assert len(everything["buildings"]) == 5
    assert everything["active_alerts_total"] == 5  # the forced gate elsewhere too
    assert everything["tickets_by_limit"]["open"] == 8
    elsewhere = await client.get(
        "/api/v1/dashboard", params={"community_id": known["other"]}, headers=headers
    )
    assert elsewhere.status_code == 200
    body = elsewhere.json()
    assert _building(body, "Building X") == {
        "devices": 1,
        "online": 1,
        "offline": 0,
        "unknown": 0,
        "low_battery": 1,
        "faulted": 1,
    }
    missing = await client.get("/api/v1/dashboard", params={"community_id": 999}, headers=headers)
    assert missing.status_code == 404


async def test_a_buildings_devices_include_its_households(
    client: httpx.AsyncClient, login: Login, known: dict[str, int]
) -> None:
    headers = await login("staff")
    body = await _dashboard(client, headers)
    b1 = next(b["building_id"] for b in body["buildings"] if b["name"] == "1号楼")
    response = await client.get(f"/api/v1/dashboard/buildings/{b1}/devices", headers=headers)
    assert response.status_code == 200, response.text
    found = {d["id"]: d for d in response.json()}
    assert set(found) == {SUN, GATE_NORTH, LOCK_B1, EBIKE_B1}
    assert found[SUN] | {"last_seen_at": None} == {
        "id": SUN,
        "name": "孙丽华的手环",
        "family": "wristband",
        "online": True,
        "availability_reason": None,
        "battery_pct": 10,
        "last_seen_at": None,
        "low_battery": True,
        "faulted": True,
        "active_alerts": 1,
        # In words, in the community's language.
        "online_label": "在线",
        "battery_label": "低电量",
    }
    assert found[LOCK_B1]["faulted"] is False and found[LOCK_B1]["active_alerts"] == 1
    assert found[EBIKE_B1]["active_alerts"] == 0 and found[EBIKE_B1]["low_battery"] is False
    # The property manager sees the wristband's health, not its SOS.
    url = f"/api/v1/dashboard/buildings/{b1}/devices"
    seen = {d["id"]: d for d in (await client.get(url, headers=await login("manager"))).json()}
    assert seen[SUN]["faulted"] is False and seen[SUN]["active_alerts"] == 0
    assert seen[SUN]["low_battery"] is True and seen[LOCK_B1] == found[LOCK_B1]

    b2 = next(b["building_id"] for b in body["buildings"] if b["name"] == "2号楼")
    charger = next(
        d
        for d in (
            await client.get(f"/api/v1/dashboard/buildings/{b2}/devices", headers=headers)
        ).json()
        if d["id"] == CHARGER_B2
    )
    assert charger["faulted"] is True and charger["active_alerts"] == 0

    everything = await _dashboard(client, await login("admin"))
    x = next(b["building_id"] for b in everything["buildings"] if b["name"] == "Building X")
    hidden = await client.get(f"/api/v1/dashboard/buildings/{x}/devices", headers=headers)
    assert hidden.status_code == 404


async def test_a_devices_history_is_newest_first(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=10)
    async with api_db.write() as conn:
        await store_batch(
            conn,
            [
                wristband_event(
                    "8800000101",
                    "wristband.heartbeat",
                    received_at=start + timedelta(minutes=n),
                    values={"battery_pct": 90 - n, "steps": 100 * n},
                )
                for n in range(5)
            ],
            [],
            datetime.now(UTC),
        )
    headers = await login("staff")
    response = await client.get(f"/api/v1/devices/{SUN}/events", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["device_id"] == SUN
    assert [e["values"]["steps"] for e in body["items"]] == [400, 300, 200, 100, 0]
    first = body["items"][0]
    assert first["kind"] == "wristband.heartbeat" and first["lane"] == "telemetry"
    assert datetime.fromisoformat(first["received_at"]) == start + timedelta(minutes=4)
    limited = await client.get(f"/api/v1/devices/{SUN}/events?limit=2", headers=headers)
    assert [e["values"]["battery_pct"] for e in limited.json()["items"]] == [86, 87]
    assert (
        await client.get(f"/api/v1/devices/{SUN}/events?limit=0", headers=headers)
    ).status_code == 422
    # The property manager sees the wristband's battery, not the wearer's steps.
    manager = await client.get(f"/api/v1/devices/{SUN}/events", headers=await login("manager"))
    assert [e["values"] for e in manager.json()["items"]][:2] == [
        {"battery_pct": 86},
        {"battery_pct": 87},
    ]
    # Her daughter sees her own household's wristband; the volunteer of grid 2 does not.
    assert (
        await client.get(f"/api/v1/devices/{SUN}/events", headers=await login("resident.sun"))
    ).status_code == 200
    assert (
        await client.get(f"/api/v1/devices/{SUN}/events", headers=await login("vol.wang"))
    ).status_code == 404


async def test_a_device_outside_the_scope_has_no_history(
    client: httpx.AsyncClient, login: Login, known: dict[str, int]
) -> None:
    manager = await login("manager")
    outside = await client.get(f"/api/v1/devices/{ELSEWHERE}/events", headers=manager)
    assert outside.status_code == 404
    assert outside.json()["detail"] == f"没有您可查看的设备 {ELSEWHERE!r}"
    missing = await client.get("/api/v1/devices/no:such-device/events", headers=manager)
    assert missing.status_code == 404
    admin = await client.get(f"/api/v1/devices/{ELSEWHERE}/events", headers=await login("admin"))
    assert admin.status_code == 200 and admin.json()["items"] == []


def test_the_running_states_are_those_the_time_limits_use() -> None:
    assert limits._RUNNING["response"] == RESPONDING
    assert limits._RUNNING["resolve"] == RESOLVING


def test_days_follow_local_midnights_across_a_dst_change() -> None:
    new_york = ZoneInfo("America/New_York")
    bounds = day_bounds(date(2026, 3, 7), new_york, days=3)
    assert [b.isoformat() for b in bounds] == [
        "2026-03-07T05:00:00+00:00",
        "2026-03-08T05:00:00+00:00",
        "2026-03-09T04:00:00+00:00",  # the 8th had 23 hours
        "2026-03-10T04:00:00+00:00",
    ]


def _bars(svg: str) -> list[tuple[str, int]]:
    return [
        (series, int(value))
        for series, value in re.findall(
            r'<rect class="bar" data-series="([^"]*)" data-category="[^"]*" data-value="([\d.]+)"',
            svg,
        )
    ]


async def test_the_charts_are_drawn_by_the_hub_from_the_same_figures(
    client: httpx.AsyncClient, login: Login, known: dict[str, int]
) -> None:
    """The dashboard's charts come as SVG from the reports' chart engine, as the caller
    sees the figures: the manager's charts leave out what the manager may not see."""
    staff, manager = await login("staff"), await login("manager")
    body = await _dashboard(client, staff)
    english = {"Accept-Language": "en"}
    alerts = await client.get("/api/v1/dashboard/charts/alerts.svg", headers=staff | english)
    assert alerts.status_code == 200, alerts.text
    assert alerts.headers["content-type"].startswith("image/svg+xml")
    svg = alerts.text
    assert svg.startswith("<svg") and 'id="chart-alerts"' in svg and 'role="img"' in svg
    total = sum(d["total"] for d in body["alerts_per_day"])
    assert sum(v for _, v in _bars(svg)) == total
    assert f"{total} alerts in 14 days" in svg
    # The kinds in words: the duress alarm (门禁胁迫报警) for staff, not for managers.
    duress = "duress at a gate"
    assert duress in svg
    managers = await client.get("/api/v1/dashboard/charts/alerts.svg", headers=manager | english)
    assert duress not in managers.text
    chinese = (await client.get("/api/v1/dashboard/charts/alerts.svg", headers=staff)).text
    assert f"14天内共{total}条告警" in chinese and "门禁胁迫报警" in chinese

    close = (await client.get("/api/v1/dashboard/charts/close.svg", headers=staff | english)).text
    assert "<title>Median time to close, by day closed</title>" in close
    assert "6 tickets closed in 14 days; median 4 h" in close
    chinese = (await client.get("/api/v1/dashboard/charts/close.svg", headers=staff)).text
    assert "<title>办结用时中位数（按结单日）</title>" in chinese
    assert "14天内结单 6 件；从受理到结单用时中位数 4 小时。" in chinese
    assert close.count('class="reference"') == 1 and len(_bars(close)) == 2

    assert (
        await client.get("/api/v1/dashboard/charts/other.svg", headers=staff)
    ).status_code == 422
    volunteer = await login("vol.li")
    assert (
        await client.get("/api/v1/dashboard/charts/alerts.svg", headers=volunteer)
    ).status_code == 403
