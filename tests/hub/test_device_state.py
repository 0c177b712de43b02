"""Each family's last-known state, folded from its events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from device_adapters.model import DeviceFamily
from device_adapters.watch import decode_frame
from device_adapters.watch import to_events as watch_events
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


# --- a wristband's place: the latest fix, never overwritten by a report without one ------

# Real frames (PROTOCOLS.md 1a): a fix in Shenzhen, and an SOS without a fix (0,0, V).
UD_FIX = (
    b"[SG*8800000015*0087*UD,220414,134652,A,22.571707,N,113.8613968,E,0.1,0.0,100,7,60,90,"
    b"1000,50,0000,4,1,460,0,9360,4082,131,9360,4092,148,9360,4091,143,9360,4153,141]"
)
AL_SOS_NO_FIX = (
    b"[3G*8809008845*00C0*AL,271219,094744,V,00.000000,N, 0.0000000,E,0.00,0.0,0.0,0,100,81,"
    b"0,0,00010000,7,0,460,0,9336,3981,141,9336,3912,141,9336,3982,140,9765,4233,134,9765,"
    b"4071,134,9765,4321,134,9336,4353,132,0,0.0]"
)
# Real (Traccar's WatchProtocolDecoderTest): V, but a place, with five access points.
WT_WIFI = (
    b"[3G*6005412902*011F*WT,170517,133811,V,18.512200,N,73.7750283,E,0.00,0.0,0.0,0,92,82,4262,"
    b"0,00000010,2,1,404,22,10125,8301,141,10125,13921,122,5,Skynet,28:c6:8e:be:87:c0,-60,"
    b"Intel Wi-Fi,4c:60:de:32:3d:38,-70,Nirvanic-2,40:e3:d6:4a:d9:c2,-73,A4-Guest,"
    b"40:e3:d6:4a:d9:c4,-73,A4Idatix,40:e3:d6:4a:d9:c3,-73,13.8]"
)


def _watch(state: dict[str, Any], raw: bytes, received_at: datetime) -> dict[str, Any]:
    for event in watch_events(decode_frame(raw), received_at=received_at, gateway_id="gw"):
        state = merge_state(state, event)
    return state


def test_a_report_without_a_fix_keeps_the_last_fix_and_says_when_it_came() -> None:
    t0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    state = _watch({}, UD_FIX, t0)
    fix = {
        "latitude": 22.571707,
        "longitude": 113.8613968,
        "source": "gps",
        "accuracy_m": None,
        "at": "2014-04-22T13:46:52+00:00",
    }
    assert state["position"] == fix
    state = _watch(state, AL_SOS_NO_FIX, t0 + timedelta(minutes=5))
    # Before: the SOS's 0,0 replaced her place, and the map showed the Gulf of Guinea.
    assert state["position"] == fix
    assert state["position_at"] == fix["at"]
    assert state["no_fix_at"] == "2019-12-27T09:47:44+00:00"
    assert not {"latitude", "longitude", "gps_fix"} & state.keys()
    assert state["last_event_kind"] == "wristband.sos"


def test_a_new_fix_replaces_the_old_and_clears_no_fix() -> None:
    t0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    state = _watch(_watch({}, AL_SOS_NO_FIX, t0), WT_WIFI, t0 + timedelta(minutes=1))
    assert state["position"] == {
        "latitude": 18.5122,
        "longitude": 73.7750283,
        "source": "wifi",
        "accuracy_m": 13.8,
        "at": "2017-05-17T13:38:11+00:00",
    }
    assert "no_fix_at" not in state
    # An older fix arriving later (a buffered frame) does not move her back in time.
    state = _watch(state, UD_FIX, t0 + timedelta(minutes=2))
    assert state["position"]["latitude"] == 18.5122


def test_a_first_report_without_a_fix_gives_no_position() -> None:
    state = _watch({}, AL_SOS_NO_FIX, datetime(2024, 5, 1, tzinfo=UTC))
    assert "position" not in state and "position_at" not in state
    assert state["no_fix_at"] == "2019-12-27T09:47:44+00:00"


def test_a_fix_from_a_clock_in_the_future_does_not_hold_later_fixes_back() -> None:
    now = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    future = device_event(
        "watch:1", BAND, "wristband.position", {"latitude": 1.5, "longitude": 2.5}
    )
    future = future.model_copy(update={"received_at": now, "device_time": now.replace(year=2031)})
    state = merge_state({}, future)
    assert state["position"]["at"] == now.isoformat()  # taken as received
    later = device_event("watch:1", BAND, "wristband.position", {"latitude": 3.5, "longitude": 4.5})
    later = later.model_copy(update={"received_at": now + timedelta(minutes=1)})
    assert merge_state(state, later)["position"]["latitude"] == 3.5
