"""Each family's last-known state, folded from its events."""

from __future__ import annotations

from typing import Any

from device_adapters.model import DeviceFamily
from hub.devices.state import merge_state
from tests.support.hubdata import device_event

CHARGER, LOCK, DOOR, BAND = (
    DeviceFamily.CHARGER,
    DeviceFamily.LOCK,
    DeviceFamily.DOOR_ACCESS,
    DeviceFamily.WRISTBAND,
)


def _fold(family: DeviceFamily, *events: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for kind, values in events:
        state = merge_state(state, device_event("x:1", family, kind, values))
    return state


def test_charger_ports_keep_their_own_availability() -> None:
    state = _fold(
        CHARGER,
        ("charger.port_status", {"port": 1, "status": "Charging", "availability": "charging"}),
        ("charger.port_status", {"port": 2, "status": "Available", "availability": "available"}),
        ("charger.meter", {"port": 1, "power_w": 3500.0, "energy_wh": 1200.0}),
    )
    assert state["ports"]["1"]["availability"] == "charging"
    assert state["ports"]["1"]["power_w"] == 3500.0
    assert state["ports"]["2"]["availability"] == "available"


def test_a_fault_puts_the_port_out_of_order_until_it_reports_available() -> None:
    state = _fold(
        CHARGER,
        ("charger.fault", {"port": 3, "error_code": "port_output_fault"}),
    )
    assert state["ports"]["3"] == {
        "fault": "port_output_fault",
        "availability": "out_of_order",
        "updated_at": state["ports"]["3"]["updated_at"],
    }
    state = merge_state(
        state,
        device_event(
            "x:1",
            CHARGER,
            "charger.port_status",
            {"port": 3, "status": "idle", "availability": "available"},
        ),
    )
    assert state["ports"]["3"]["availability"] == "available" and "fault" not in state["ports"]["3"]


def test_unknown_availability_values_become_unknown_and_port_0_is_the_pile() -> None:
    state = _fold(
        CHARGER,
        ("charger.port_status", {"port": 0, "status": "Weird", "availability": "sparkly"}),
        ("charger.smoke", {"port": 0}),
    )
    assert "ports" not in state
    assert state["pile"]["availability"] == "out_of_order" and state["pile"]["fault"] == "smoke"


def test_lock_state_follows_lock_and_unlock() -> None:
    state = _fold(
        LOCK,
        ("lock.unlocked", {"method": "keypad", "user": 3, "battery_pct": 87}),
    )
    assert state["lock_state"] == "unlocked" and state["last_unlock"]["user"] == 3
    assert state["battery_pct"] == 87
    assert _fold(LOCK, ("lock.state", {"lock_state": "not_fully_locked"}))["lock_state"] == (
        "not_fully_locked"
    )


def test_duress_leaves_no_trace_in_state() -> None:
    before = _fold(LOCK, ("lock.locked", {}))
    after = merge_state(before, device_event("x:1", LOCK, "lock.duress", {"method": "duress"}))
    assert after == before
    gate = merge_state({}, device_event("x:1", DOOR, "door.duress", {"door": 1}))
    assert gate == {}


def test_door_state_per_door() -> None:
    state = _fold(
        DOOR,
        ("door.opened", {"door": 1}),
        ("door.forced_open", {"door": 2}),
        ("door.closed", {"door": 1}),
    )
    assert state["doors"] == {"1": "closed", "2": "open"}


def test_wristband_worn_and_battery_flags() -> None:
    state = _fold(
        BAND,
        ("wristband.removed", {"battery_pct": 15}),
        ("device.low_battery", {"battery_pct": 15}),
    )
    assert state["worn"] is False and state["battery_low"] is True
    state = merge_state(
        state, device_event("x:1", BAND, "wristband.heartbeat", {"battery_pct": 90})
    )
    assert state["battery_low"] is False
    state = merge_state(state, device_event("x:1", BAND, "wristband.worn", {}))
    assert state["worn"] is True


def test_folding_an_event_never_changes_the_state_it_was_given() -> None:
    """merge_state copies only what it changes; the state passed in stays as it was."""
    import copy

    before = _fold(
        CHARGER,
        ("charger.port_status", {"port": 0, "status": "Available", "availability": "available"}),
        ("charger.port_status", {"port": 1, "status": "Available", "availability": "available"}),
        ("charger.port_status", {"port": 2, "status": "Available", "availability": "available"}),
    )
    snapshot = copy.deepcopy(before)
    changes: tuple[tuple[str, dict[str, float | int | str | bool | None]], ...] = (
        ("charger.fault", {"port": 1, "error_code": "GroundFailure"}),
        ("charger.fault", {"port": 0, "error_code": "PowerMeterFailure"}),
        ("charger.meter", {"port": 2, "power_w": 7000.0}),
    )
    for kind, values in changes:
        after = merge_state(before, device_event("x:1", CHARGER, kind, values))
        assert after != before
    assert before == snapshot

    doors = _fold(DOOR, ("door.opened", {"door": 1}))
    snapshot = copy.deepcopy(doors)
    after = merge_state(doors, device_event("x:1", DOOR, "door.closed", {"door": 1}))
    assert after["doors"] == {"1": "closed"} and doors == snapshot
