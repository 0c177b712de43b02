"""Each family's state, and an event's values, in one line: known facts only, local times.

2026-12-07 05:27 UTC is 13:27 in Asia/Shanghai, the same day there as ``NOW``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from device_adapters.model import DeviceFamily
from hub.devices.state_words import state_label, values_label

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
AT = "2026-12-07T05:27:00+00:00"


def _zh(family: DeviceFamily, state: dict[str, object]) -> str | None:
    return state_label(family, state, "zh-CN", SHANGHAI, now=NOW)


def _en(family: DeviceFamily, state: dict[str, object]) -> str | None:
    return state_label(family, state, "en", SHANGHAI, now=NOW)


def test_a_wristband_off_the_wrist_with_its_readings_and_last_fix() -> None:
    state = {
        "worn": False,
        "battery_pct": 18,
        "heart_rate_bpm": 72,
        "systolic_mmhg": 128,
        "diastolic_mmhg": 82,
        "position_at": AT,
        "latitude": 31.23,  # where she is is not in the line, only when it was known
        "tumbles": 0,  # not worded: left out, never shown raw
    }
    assert _zh(DeviceFamily.WRISTBAND, state) == (
        "未佩戴 · 电量 18%（低电量） · 心率 72 · 血压 128/82 · 位置更新于 今天 13:27"
    )
    assert _en(DeviceFamily.WRISTBAND, state) == (
        "Not worn · Battery 18% (Low battery) · Heart rate 72 · Blood pressure 128/82 · "
        "Position updated Today 13:27"
    )


def test_a_lock_says_locked_or_not_and_when_it_was_last_unlocked() -> None:
    state = {"lock_state": "locked", "battery_pct": 60, "last_unlock": {"at": AT, "user": 3}}
    assert _zh(DeviceFamily.LOCK, state) == "已上锁 · 电量 60% · 上次开锁 今天 13:27"
    # Zigbee2MQTT's ``state`` alone; a jam is news only while nothing came after it.
    jammed = {"state": "UNLOCK", "jammed": True, "last_event_kind": "lock.jammed"}
    assert _zh(DeviceFamily.LOCK, jammed) == "已开锁 · 锁舌卡住"
    assert _en(DeviceFamily.LOCK, jammed | {"last_event_kind": "lock.locked"}) == "Unlocked"


def test_a_gate_says_its_doors_and_its_last_entry() -> None:
    one = {"doors": {"1": "open"}, "last_access_at": AT}
    assert _zh(DeviceFamily.DOOR_ACCESS, one) == "门开着 · 最近通行 今天 13:27"
    two = {"doors": {"1": "closed", "2": "open"}}
    assert _zh(DeviceFamily.DOOR_ACCESS, two) == "1号门已关 · 2号门开着"
    assert _en(DeviceFamily.DOOR_ACCESS, two) == "Door 1 closed · Door 2 open"


def test_a_pile_of_several_ports_counts_them_by_state() -> None:
    state = {
        "pile": {"fault": "smoke", "availability": "out_of_order"},
        "ports": {
            "1": {"availability": "charging", "power_w": 300},
            "2": {"availability": "charging", "power_w": 450},
            "3": {"availability": "available"},
            "4": {"availability": "out_of_order", "fault": "GroundFailure"},
        },
    }
    assert _zh(DeviceFamily.CHARGER, state) == (
        "整桩故障 · 空闲 1 个 · 充电中 2 个 · 故障 1 个 · 0.8 kW"
    )
    assert _en(DeviceFamily.CHARGER, state) == (
        "Pile out of order · Free: 1 · Charging: 2 · Out of order: 1 · 0.8 kW"
    )
    one_free = {"ports": {"1": {"availability": "reserved"}}}
    assert _zh(DeviceFamily.CHARGER, one_free) == "已预约"


def test_nothing_known_is_no_label_and_unknown_keys_are_never_dumped() -> None:
    assert _zh(DeviceFamily.WRISTBAND, {}) is None
    assert _zh(DeviceFamily.WRISTBAND, {"vendor_thing": "x", "last_event_at": AT}) is None
    assert state_label("smoke_detector", {"battery_pct": 50}, "zh-CN", SHANGHAI) is None
    assert values_label({"status_hex": "00010000", "mcc": 460}, "zh-CN") is None


def test_an_events_values_in_words() -> None:
    assert values_label({"door": 1, "method": "card", "reason": "invalid_card"}, "zh-CN") == (
        "1号门 · 刷卡 · 无效卡"
    )
    assert values_label({"reason": "wrong_finger", "battery_pct": 9}, "en") == (
        "Wrong fingerprint · Battery 9% (Low battery)"
    )
    fix = {"latitude": 31.2, "longitude": 121.4, "gps_fix": False, "worn": True}
    assert values_label(fix, "zh-CN") == "基站/Wi-Fi定位"
    # An SOS without a fix says so, rather than nothing (docs/positions.md).
    no_fix = {"gps_fix": False, "battery_pct": 81, "status_hex": "00010000"}
    assert values_label(no_fix, "zh-CN") == "未定位 · 电量 81%"
    assert values_label(no_fix, "en") == "No position fix · Battery 81%"
    port = {"port": 1, "availability": "charging", "remaining_min": 45, "error_code": "NoError"}
    assert values_label(port, "zh-CN") == "1号口 · 充电中 · 还需45分钟"
    assert values_label(port, "en") == "Port 1 · Charging · 45 minutes left"
    assert values_label({"port": 0, "error_code": "E07"}, "zh-CN") == "整桩 · 故障代码 E07"
