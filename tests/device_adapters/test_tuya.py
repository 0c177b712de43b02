"""Tuya lock data points: the bridge envelope, every DP and alarm bit of PROTOCOLS.md 4b,
duress, unknown data, malformed reports, and property-based checks."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_adapters.base import MessageContext
from device_adapters.kinds import KINDS
from device_adapters.model import DeviceEvent, DeviceFamily, Lane, Severity
from device_adapters.tuya import (
    ADAPTER,
    LOW_BATTERY_PCT,
    AlarmBit,
    TuyaDecodeError,
    decode,
)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RECEIVED = datetime(2024, 5, 1, 0, 0, 3, tzinfo=UTC)
DEV = "bf0123456789abcdef"

# The bridge envelope (*built*, see device_adapters.tuya.codec): fingerprint of user 3,
# alarm 1040 = battery low (1024) + jammed closed (16), battery 87 %.
GOLDEN = b'{"devId": "bf0123456789abcdef", "dps": {"1": 3, "8": 1040, "12": 87}, "t": 1714550400}'

# PROTOCOLS.md 4b, restated: alarm bit -> (kind, values that say which).
SPEC_BITS: dict[int, tuple[str, dict[str, str]]] = {
    1: ("lock.unlock_failed", {"reason": "wrong_finger"}),
    2: ("lock.unlock_failed", {"reason": "wrong_password"}),
    4: ("lock.unlock_failed", {"reason": "wrong_card"}),
    8: ("lock.unlock_failed", {"reason": "wrong_face"}),
    16: ("lock.jammed", {"jammed": "closed"}),
    32: ("lock.high_temperature", {}),
    64: ("lock.door_held_open", {}),
    128: ("lock.jammed", {"jammed": "open"}),
    256: ("lock.tamper", {"reason": "pry"}),
    512: ("lock.key_left_in", {}),
    1024: ("device.low_battery", {}),
    2048: ("device.battery_dead", {}),
    4096: ("lock.shock", {}),
}
SPEC_UNLOCK_DPS = {
    1: "fingerprint",
    2: "password",
    3: "temporary_password",
    4: "dynamic_password",
    5: "card",
    15: "app",
}


def ctx(hint: str | None = None) -> MessageContext:
    ids = iter(uuid.UUID(int=i) for i in range(1, 1000))
    return MessageContext(
        received_at=RECEIVED,
        gateway_id="gw-1",
        source=f"mqtt tuya/{hint}/state",
        device_hint=hint,
        new_id=lambda: next(ids),
    )


def report(dps: dict[int | str, Any], **envelope: Any) -> bytes:
    doc: dict[str, Any] = {"devId": DEV, "dps": {str(k): v for k, v in dps.items()}}
    doc.update(envelope)
    return json.dumps(doc).encode()


def kinds(events: list[DeviceEvent]) -> list[str]:
    return [e.kind for e in events]


def test_golden_envelope() -> None:
    events = decode(GOLDEN, ctx(DEV))
    assert kinds(events) == ["lock.unlocked", "lock.jammed", "device.low_battery"]
    unlocked, jammed, low = events
    assert unlocked.values == {"method": "fingerprint", "user": 3, "battery_pct": 87}
    assert jammed.values == {"jammed": "closed", "alarm": 1040, "battery_pct": 87}
    assert low.values == {"alarm": 1040, "battery_pct": 87}
    for event in events:
        assert event.device_id == f"tuya:{DEV}"
        assert event.family is DeviceFamily.LOCK and event.protocol == "tuya"
        assert event.device_time == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
        assert event.raw == GOLDEN
        assert DeviceEvent.model_validate_json(event.model_dump_json()) == event


@pytest.mark.parametrize(("dp", "method"), sorted(SPEC_UNLOCK_DPS.items()))
def test_every_unlock_dp(dp: int, method: str) -> None:
    [event] = decode(report({dp: 7}), ctx())
    assert event.kind == "lock.unlocked"
    assert event.values == {"method": method, "user": 7}


@pytest.mark.parametrize(("bit", "expected"), sorted(SPEC_BITS.items()))
def test_every_alarm_bit(bit: int, expected: tuple[str, dict[str, str]]) -> None:
    kind, values = expected
    [event] = decode(report({8: bit}), ctx())
    info = KINDS[kind]
    assert (event.kind, event.severity, event.lane) == (kind, info.severity, info.lane)
    assert event.values == {**values, "alarm": bit}


def test_every_bit_at_once_gives_one_event_per_bit() -> None:
    events = decode(report({8: sum(SPEC_BITS)}), ctx())
    assert kinds(events) == [kind for _, (kind, _) in sorted(SPEC_BITS.items())]
    assert "unknown_alarm_bits" not in events[0].values


def test_alarm_zero_is_nothing() -> None:
    assert decode(report({8: 0}), ctx()) == []


def test_unknown_alarm_bits_are_reported() -> None:
    events = decode(report({8: 8192 | 32}), ctx())
    assert kinds(events) == ["lock.high_temperature"]
    assert events[0].values["unknown_alarm_bits"] == 8192
    [carrier] = decode(report({8: 1 << 20}), ctx())
    assert carrier.kind == "device.heartbeat"
    assert carrier.values == {"unknown_alarm_bits": 1 << 20}


def test_hijack_opens_the_door_and_raises_a_silent_alarm() -> None:
    events = decode(report({16: True, 12: 80}), ctx())
    assert sorted(kinds(events)) == ["lock.duress", "lock.unlocked"]
    duress = next(e for e in events if e.kind == "lock.duress")
    unlocked = next(e for e in events if e.kind == "lock.unlocked")
    assert duress.severity is Severity.CRITICAL and duress.lane is Lane.ALARM
    assert KINDS["lock.duress"].silent
    assert unlocked.values == {"method": "unspecified", "battery_pct": 80}


def test_hijack_with_a_user_number() -> None:
    events = decode(report({16: 4}), ctx())
    assert {e.kind: e.values.get("user") for e in events} == {
        "lock.duress": 4,
        "lock.unlocked": 4,
    }


def test_hijack_with_the_finger_used_reports_one_unlock() -> None:
    events = decode(report({1: 2, 16: True}), ctx())
    assert sorted(kinds(events)) == ["lock.duress", "lock.unlocked"]
    unlocked = next(e for e in events if e.kind == "lock.unlocked")
    assert unlocked.values == {"method": "fingerprint", "user": 2}


def test_hijack_false_is_nothing() -> None:
    assert decode(report({16: False}), ctx()) == []


def test_doorbell() -> None:
    [bell] = decode(report({19: True}), ctx())
    assert bell.kind == "lock.doorbell"
    assert decode(report({19: False}), ctx()) == []
    assert decode(report({19: 0}), ctx()) == []
    assert kinds(decode(report({19: 1}), ctx())) == ["lock.doorbell"]


@pytest.mark.parametrize(
    ("battery", "low"), [(100, False), (LOW_BATTERY_PCT + 1, False), (LOW_BATTERY_PCT, True)]
)
def test_battery_threshold(battery: int, low: bool) -> None:
    events = decode(report({12: battery}), ctx())
    assert kinds(events) == (["device.low_battery"] if low else ["device.heartbeat"])
    assert events[0].values["battery_pct"] == battery


def test_low_battery_is_reported_once() -> None:
    events = decode(report({12: 5, 8: 1024}), ctx())
    assert kinds(events) == ["device.low_battery"]
    dead = decode(report({12: 0, 8: 2048}), ctx())
    assert kinds(dead) == ["device.battery_dead"]


def test_unknown_dps_are_listed_on_every_event() -> None:
    events = decode(report({2: 1, 19: True, 101: "x", 9: [1], 45: {"a": 1}}), ctx())
    assert kinds(events) == ["lock.unlocked", "lock.doorbell"]
    assert all(e.values["unknown_dps"] == "9,45,101" for e in events)
    [carrier] = decode(report({33: 1}), ctx())
    assert carrier.kind == "device.heartbeat" and carrier.values == {"unknown_dps": "33"}


def test_empty_report() -> None:
    assert decode(report({}), ctx()) == []


# -- device id and time --------------------------------------------------------------


def test_device_id_from_the_topic_when_the_message_has_none() -> None:
    [event] = decode(json.dumps({"dps": {"1": 1}}).encode(), ctx("abc123"))
    assert event.device_id == "tuya:abc123"


def test_device_id_is_sanitized() -> None:
    [event] = decode(report({1: 1}, devId="ab c/ä" + "x" * 200), ctx())
    assert event.device_id == "tuya:ab_c__" + "x" * 94


def test_message_and_topic_must_agree() -> None:
    with pytest.raises(TuyaDecodeError, match="does not match"):
        decode(report({1: 1}), ctx("someone-else"))


def test_no_device_id_at_all() -> None:
    with pytest.raises(TuyaDecodeError, match="no devId"):
        decode(json.dumps({"dps": {"1": 1}}).encode(), ctx())


def test_time_in_milliseconds_and_absent() -> None:
    [ms] = decode(report({1: 1}, t=1714550400123), ctx())
    assert ms.device_time == datetime(2024, 5, 1, 8, 0, 0, 123000, tzinfo=UTC)
    [none] = decode(report({1: 1}), ctx())
    assert none.device_time is None


def test_adapter_declaration() -> None:
    assert (ADAPTER.name, ADAPTER.family, ADAPTER.transport) == (
        "tuya_lock",
        DeviceFamily.LOCK,
        "mqtt",
    )
    assert len(ADAPTER.decode(GOLDEN, ctx())) == 3
    assert int(AlarmBit.SHOCK) == 4096


# -- malformed -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"dps", "not JSON"),
        (b"\xff", "not UTF-8"),
        (b"[]", "expected a JSON object"),
        (json.dumps({"devId": DEV}).encode(), "dps must be an object"),
        (json.dumps({"devId": DEV, "dps": [1]}).encode(), "dps must be an object"),
        (json.dumps({"devId": 5, "dps": {}}).encode(), "devId must be"),
        (json.dumps({"devId": "", "dps": {}}).encode(), "devId must be"),
        (report({"x": 1}), "key must be a number"),
        (report({"1234": 1}), "key must be a number"),
        (report({1: "3"}), "DP 1 must be an integer"),
        (report({1: True}), "DP 1 must be an integer"),
        (report({1: -3}), "DP 1 out of range"),
        (report({8: 1.5}), "DP 8 must be an integer"),
        (report({8: 2**40}), "DP 8 out of range"),
        (report({12: 101}), "DP 12 out of range"),
        (report({16: "yes"}), "DP 16 must be an integer"),
        (report({19: None}), "DP 19 must be an integer"),
        (report({1: 1}, t="now"), "t must be an integer"),
        (report({1: 1}, t=5), "t out of range"),
        (report({1: 1}, t=10**30), "t out of range"),
    ],
)
def test_malformed_reports(payload: bytes, reason: str) -> None:
    with pytest.raises(TuyaDecodeError, match=reason):
        decode(payload, ctx())


# -- properties ----------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
dp_keys = st.sampled_from(["1", "2", "3", "4", "5", "8", "12", "15", "16", "19", "99"]) | st.text(
    max_size=4
)
dp_values = scalars | st.integers(0, 8191) | st.integers(0, 100)


def check(payload: bytes, hint: str | None = None) -> None:
    try:
        events = decode(payload, ctx(hint))
    except TuyaDecodeError as exc:
        assert exc.reason
        return
    for event in events:
        assert event.device_id.startswith("tuya:") and event.kind in KINDS
        assert DeviceEvent.model_validate_json(event.model_dump_json()) == event


@FUZZ
@given(st.binary(max_size=300), st.none() | st.text(max_size=30))
def test_arbitrary_bytes(payload: bytes, hint: str | None) -> None:
    check(payload, hint)


@FUZZ
@given(json_values)
def test_arbitrary_json(value: Any) -> None:
    check(json.dumps(value).encode(), DEV)


@FUZZ
@given(
    st.dictionaries(dp_keys, dp_values, max_size=8),
    st.none() | st.integers(-(2**64), 2**64) | json_values,
    st.sampled_from([DEV, None, "", 5, "x/y"]),
)
def test_reports_with_arbitrary_points(dps: dict[str, Any], t: Any, dev_id: Any) -> None:
    doc: dict[str, Any] = {"dps": dps, "t": t}
    if dev_id is not None:
        doc["devId"] = dev_id
    check(json.dumps(doc).encode(), DEV)
