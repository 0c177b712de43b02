"""A device's state and its history's values in words, times in the community's zone.

The demo community is in Asia/Shanghai and speaks zh-CN. The answers keep ``state`` and
``values`` as codes and ISO times for machines; ``state_label`` and ``values_label`` are
for people: known facts only, never a raw key or an ISO stamp.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from device_adapters.model import DeviceFamily
from hub.ingest.flows import store_batch
from hub.storage.db import Database
from tests.api.people import Users
from tests.support.hubdata import device_event, wristband_event

EN = {"Accept-Language": "en-US,en;q=0.8"}
SHANGHAI = ZoneInfo("Asia/Shanghai")
SUN = "8800000101"  # 孙丽华's wristband
LOCK = "z2m:b1_101_front_door"  # her front door's lock
CHARGER = "ebike:EB-B3-01"
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|\d\d:\d\d:\d\d|Z\b|\+00:00")


async def _get(actor: Any, path: str, headers: dict[str, str] | None = None) -> Any:
    response = await actor.client.get(path, headers=actor.headers | (headers or {}))
    assert response.status_code == 200, response.text
    return response.json()


async def _store(db: Database, *events: Any) -> None:
    async with db.write() as conn:
        await store_batch(conn, list(events), [], datetime.now(UTC))


async def test_a_devices_state_is_said_in_words_with_local_times(
    as_user: Users, api_db: Database
) -> None:
    fix = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    clock = fix.astimezone(SHANGHAI).strftime("%H:%M")
    await _store(
        api_db,
        wristband_event(SUN, "wristband.heartbeat", received_at=fix, values={"battery_pct": 18}),
        wristband_event(
            SUN,
            "wristband.position",
            received_at=fix + timedelta(seconds=10),
            values={"latitude": 31.23, "longitude": 121.47, "gps_fix": True},
        ),
        wristband_event(
            SUN,
            "wristband.heart_rate",
            received_at=fix + timedelta(seconds=20),
            values={"heart_rate_bpm": 72},
        ),
        device_event(
            LOCK, DeviceFamily.LOCK, "lock.state", {"lock_state": "locked", "battery_pct": 60}
        ),
        device_event(
            CHARGER,
            DeviceFamily.CHARGER,
            "charger.port_status",
            {"port": 1, "availability": "charging", "status": "Charging"},
        ),
        device_event(CHARGER, DeviceFamily.CHARGER, "charger.meter", {"port": 1, "power_w": 7200}),
    )
    staff = await as_user("staff")

    watch = await _get(staff, f"/api/v1/devices/watch:{SUN}")
    assert watch["state_label"] == f"电量 18%（低电量） · 心率 72 · 位置更新于 今天 {clock}"
    assert watch["state"]["heart_rate_bpm"] == 72  # the codes stay for machines
    assert datetime.fromisoformat(watch["state"]["position_at"]).utcoffset() is not None
    english = await _get(staff, f"/api/v1/devices/watch:{SUN}", EN)
    assert english["state_label"] == (
        f"Battery 18% (Low battery) · Heart rate 72 · Position updated Today {clock}"
    )

    lock = await _get(staff, f"/api/v1/devices/{LOCK}")
    assert lock["state_label"] == "已上锁 · 电量 60%"
    assert (await _get(staff, f"/api/v1/devices/{LOCK}", EN))["state_label"] == (
        "Locked · Battery 60%"
    )
    pile = await _get(staff, f"/api/v1/devices/{CHARGER}")
    assert pile["state_label"] == "充电中 · 7.2 kW"
    assert (await _get(staff, f"/api/v1/devices/{CHARGER}", EN))["state_label"] == (
        "Charging · 7.2 kW"
    )

    # A property manager may not see the wearer's vitals or whereabouts: nor their words.
    manager = await as_user("manager")
    watch = await _get(manager, f"/api/v1/devices/watch:{SUN}")
    assert watch["state_label"] == "电量 18%（低电量）"

    # The list says each state too, never a raw key or an ISO stamp.
    listed = (await _get(staff, "/api/v1/devices?limit=200"))["items"]
    labels = {d["id"]: d["state_label"] for d in listed}
    assert labels[LOCK] == "已上锁 · 电量 60%"
    for label in filter(None, labels.values()):
        assert not ISO.search(label) and "_" not in label, label


async def test_a_devices_history_says_each_events_values_in_words(
    as_user: Users, api_db: Database
) -> None:
    await _store(
        api_db,
        wristband_event(SUN, "wristband.heart_rate", values={"heart_rate_bpm": 72}),
        device_event(
            CHARGER,
            DeviceFamily.CHARGER,
            "charger.meter",
            {"port": 2, "power_w": 7200, "energy_wh": 12500},
        ),
    )
    staff = await as_user("staff")

    history = await _get(staff, f"/api/v1/devices/watch:{SUN}/events")
    [beat] = [e for e in history["items"] if e["kind"] == "wristband.heart_rate"]
    assert (beat["values"], beat["values_label"]) == ({"heart_rate_bpm": 72}, "心率 72")
    assert datetime.fromisoformat(beat["received_at"]).utcoffset() is not None
    history = await _get(staff, f"/api/v1/devices/watch:{SUN}/events", EN)
    [beat] = [e for e in history["items"] if e["kind"] == "wristband.heart_rate"]
    assert beat["values_label"] == "Heart rate 72"

    history = await _get(staff, f"/api/v1/devices/{CHARGER}/events")
    [meter] = [e for e in history["items"] if e["kind"] == "charger.meter"]
    assert meter["values_label"] == "2号口 · 7.2 kW · 12.5 kWh"
    history = await _get(staff, f"/api/v1/devices/{CHARGER}/events", EN)
    [meter] = [e for e in history["items"] if e["kind"] == "charger.meter"]
    assert meter["values_label"] == "Port 2 · 7.2 kW · 12.5 kWh"
    for event in history["items"]:
        label = event["values_label"] or ""
        assert not ISO.search(label) and "_" not in label, label
