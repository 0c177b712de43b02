"""GET /api/v1/devices/{id}/telemetry: a device's history, scoped like the device itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from hub.ingest.flows import store_batch
from hub.settings import TelemetrySettings
from hub.storage.db import Database
from hub.telemetry.history import Retention, maintain
from hub.telemetry.service import HistoryWriter, TelemetryFeed
from tests.api.people import Login
from tests.support.hubdata import wristband_event

SUN = "8800000101"  # 孙丽华's wristband, grid 1; resident.sun lives with her
URL = f"/api/v1/devices/watch:{SUN}/telemetry"


async def _readings(db: Database, now: datetime) -> None:
    """Three blood-pressure readings and a battery level, stored the way ingest stores them."""
    events = [
        wristband_event(
            SUN,
            "wristband.blood_pressure",
            received_at=now - timedelta(minutes=minutes),
            values={
                "systolic_mmhg": 120 + minutes,
                "diastolic_mmhg": 80,
                "heart_rate_bpm": 70 + minutes,
            },
        )
        for minutes in (30, 20, 10)
    ] + [wristband_event(SUN, "wristband.heartbeat", received_at=now, values={"battery_pct": 55})]
    writer = HistoryWriter(db, capacity=100)
    async with db.write() as conn:
        outcome = await store_batch(conn, events, [], now)
    await TelemetryFeed([writer])(outcome)  # after commit, as the ingest worker calls it
    await writer.flush()
    async with db.write() as conn:
        await maintain(conn, now, Retention.from_settings(TelemetrySettings()))


async def test_the_household_and_staff_see_vitals_others_see_battery_only(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    now = datetime.now(UTC)
    await _readings(api_db, now)
    query = {"measurement": "vitals", "field": "heart_rate"}

    for user in ("resident.sun", "staff", "admin"):
        response = await client.get(URL, params=query, headers=await login(user))
        assert response.status_code == 200, (user, response.text)
        body = response.json()
        assert body["resolution"] == "raw"  # 24 hours by default: raw readings
        assert [v["avg"] for v in body["series"][0]["values"]] == [100, 90, 80]

    for user in ("vol.li", "manager"):
        response = await client.get(URL, params=query, headers=await login(user))
        assert response.status_code == 403, user
        assert "健康数据" in response.json()["detail"]
        battery = await client.get(
            URL, params={"measurement": "battery", "field": "percent"}, headers=await login(user)
        )
        assert battery.status_code == 200
        assert battery.json()["series"][0]["values"][0]["avg"] == 55

    # vol.wang is on grid 2's rota: the device is not his to see at all.
    hidden = await client.get(URL, params=query, headers=await login("vol.wang"))
    assert hidden.status_code == 404


async def test_rollups_and_bad_queries(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    now = datetime.now(UTC)
    await _readings(api_db, now)
    staff = await login("staff")

    week = {
        "measurement": "vitals",
        "field": "systolic",
        "since": (now - timedelta(days=3)).isoformat(),
        "until": now.isoformat(),
    }
    body = (await client.get(URL, params=week, headers=staff)).json()
    assert body["resolution"] == "5m"
    values = [v for s in body["series"] for v in s["values"]]
    assert sum(v["count"] for v in values) == 3
    assert min(v["min"] for v in values) == 130 and max(v["max"] for v in values) == 150
    hourly = (await client.get(URL, params={**week, "resolution": "1h"}, headers=staff)).json()
    assert hourly["resolution"] == "1h"
    assert sum(v["count"] for s in hourly["series"] for v in s["values"]) == 3

    for params, reason in [
        ({"measurement": "vitals", "field": "volts"}, "没有字段 'volts'"),
        ({"measurement": "weather", "field": "x"}, "measurement"),
        ({**week, "since": week["until"], "until": week["since"]}, "必须晚于开始时间"),
        ({**week, "since": "2026-11-21T10:00:00"}, "timezone"),
        ({**week, "resolution": "1m"}, "resolution"),
    ]:
        response = await client.get(URL, params=params, headers=staff)
        assert response.status_code == 422, params
        assert reason in response.text, (reason, response.text)


async def test_the_dashboards_device_charts_are_drawn_by_the_hub_for_what_the_caller_may_see(
    client: httpx.AsyncClient, login: Login, api_db: Database
) -> None:
    """Which charts a device has depends on who asks; each comes as an SVG image."""
    now = datetime.now(UTC)
    await _readings(api_db, now)
    charts = f"/api/v1/devices/watch:{SUN}/charts"
    staff, manager = await login("staff"), await login("manager")

    listed = (await client.get(charts, headers=staff)).json()
    assert [c["name"] for c in listed["charts"]] == ["heart_rate", "blood_pressure"]
    english = {"Accept-Language": "en"}
    pressure = await client.get(f"{charts}/blood_pressure.svg", headers=staff | english)
    assert pressure.status_code == 200, pressure.text
    assert pressure.headers["content-type"].startswith("image/svg+xml")
    svg = pressure.text
    assert 'id="chart-blood-pressure"' in svg and svg.count('<path class="line"') == 2
    assert 'data-series="Systolic"' in svg and 'data-points="3"' in svg
    assert "6 values in the last 24 hours" in svg

    listed = (await client.get(charts, headers=manager)).json()
    assert [c["name"] for c in listed["charts"]] == ["battery"]
    battery = (await client.get(f"{charts}/battery.svg", headers=manager | english)).text
    assert 'data-points="1"' in battery and "<title>Battery, last 24 hours</title>" in battery
    # The community's language when the browser asks for none: Chinese.
    chinese = (await client.get(f"{charts}/battery.svg", headers=manager)).text
    assert "<title>电量（最近24小时）</title>" in chinese
    assert "最近24小时共1个数据" in chinese
    refused = await client.get(f"{charts}/heart_rate.svg", headers=manager)
    assert refused.status_code == 404  # not a chart of this device for a property manager
    outsider = await client.get("/api/v1/devices/watch:0000000000/charts", headers=staff)
    assert outsider.status_code == 404
