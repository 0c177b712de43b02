"""Zigbee2MQTT locks: the PROTOCOLS.md 4a example, every action, battery, availability,
the lock command, malformed messages, and property-based checks."""

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
from device_adapters.zigbee2mqtt import (
    ADAPTER,
    LOW_BATTERY_PCT,
    Z2mDecodeError,
    availability_of,
    command_topic,
    decode,
    decode_availability,
    sanitize_name,
    set_command,
)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RECEIVED = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)

# PROTOCOLS.md 4a (*built*): topic zigbee2mqtt/front_door.
GOLDEN = (
    b'{"state":"UNLOCK","lock_state":"unlocked","action":"unlock",'
    b'"action_source_name":"keypad","action_user":3,"battery":87}'
)


def ctx(name: str | None = "front_door") -> MessageContext:
    ids = iter(uuid.UUID(int=i) for i in range(1, 1000))
    return MessageContext(
        received_at=RECEIVED,
        gateway_id="gw-1",
        source="mqtt zigbee2mqtt/front_door",
        device_hint=name,
        new_id=lambda: next(ids),
    )


def message(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def kinds(events: list[DeviceEvent]) -> list[str]:
    return [e.kind for e in events]


def test_golden_unlock_by_keypad() -> None:
    state, unlocked = decode(GOLDEN, ctx())
    assert state.kind == "lock.state"
    assert state.values == {"state": "UNLOCK", "lock_state": "unlocked", "battery_pct": 87}
    assert unlocked.kind == "lock.unlocked"
    assert unlocked.values == {
        "action": "unlock",
        "source": "keypad",
        "method": "keypad",
        "user": 3,
        "battery_pct": 87,
    }
    for event in (state, unlocked):
        assert event.device_id == "z2m:front_door"
        assert event.family is DeviceFamily.LOCK and event.protocol == "zigbee2mqtt"
        assert event.received_at == RECEIVED and event.device_time is None
        assert event.raw == GOLDEN
        assert DeviceEvent.model_validate_json(event.model_dump_json()) == event
    assert [state.event_id, unlocked.event_id] == [uuid.UUID(int=1), uuid.UUID(int=2)]


@pytest.mark.parametrize(
    ("action", "source", "kind", "method"),
    [
        ("lock", "keypad", "lock.locked", "keypad"),
        ("lock", None, "lock.locked", None),
        ("one_touch_lock", None, "lock.locked", "one_touch"),
        ("key_lock", None, "lock.locked", "key"),
        ("auto_lock", None, "lock.locked", "auto"),
        ("manual_lock", "manual", "lock.locked", "manual"),
        ("unlock", "rfid", "lock.unlocked", "rfid"),
        ("unlock", "rf", "lock.unlocked", "rf"),
        ("unlock", "manual", "lock.unlocked", "manual"),
        ("key_unlock", "manual", "lock.unlocked", "key"),
        ("manual_unlock", None, "lock.unlocked", "manual"),
    ],
)
def test_every_lock_and_unlock_action(
    action: str, source: str | None, kind: str, method: str | None
) -> None:
    events = decode(
        message(state="LOCK", action=action, action_source_name=source, action_user=5), ctx()
    )
    assert kinds(events) == ["lock.state", kind]
    assert events[1].values.get("method") == method
    assert events[1].values["user"] == 5 and events[1].values["action"] == action


@pytest.mark.parametrize(
    ("action", "attempted"),
    [
        ("unlock_failure_invalid_pin_or_id", "unlock"),
        ("lock_failure_invalid_pin_or_id", "lock"),
    ],
)
def test_failures(action: str, attempted: str) -> None:
    events = decode(message(action=action, action_source_name="keypad", action_user=2), ctx())
    [failed] = events
    assert failed.kind == "lock.unlock_failed" and failed.severity is Severity.LOW
    assert failed.values["attempted"] == attempted
    assert failed.values["reason"] == "invalid_pin_or_id"
    assert failed.values["source"] == "keypad" and failed.values["user"] == 2


def test_an_unknown_action_is_kept_not_dropped() -> None:
    events = decode(message(state="LOCK", action="non_access_user_operational_event"), ctx())
    assert kinds(events) == ["lock.state"]
    assert events[0].values["unknown_action"] == "non_access_user_operational_event"
    # Even without any state in the message.
    [only] = decode(message(action="something_new"), ctx())
    assert only.kind == "lock.state" and only.values == {"unknown_action": "something_new"}


@pytest.mark.parametrize("empty", [None, ""])
def test_empty_action_is_no_action(empty: str | None) -> None:
    assert kinds(decode(message(state="LOCK", action=empty), ctx())) == ["lock.state"]


def test_not_fully_locked_state() -> None:
    [event] = decode(message(lock_state="not_fully_locked"), ctx())
    assert event.values == {"lock_state": "not_fully_locked"}


@pytest.mark.parametrize(
    ("battery", "low"),
    [(100, False), (LOW_BATTERY_PCT + 1, False), (LOW_BATTERY_PCT, True), (3, True), (0, True)],
)
def test_low_battery_threshold(battery: int, low: bool) -> None:
    events = decode(message(state="LOCK", battery=battery), ctx())
    expected = ["lock.state", "device.low_battery"] if low else ["lock.state"]
    assert kinds(events) == expected
    assert all(e.values["battery_pct"] == battery for e in events)
    if low:
        assert events[1].lane is Lane.ALARM


def test_battery_low_flag_alone_is_enough() -> None:
    events = decode(message(state="LOCK", battery=60, battery_low=True), ctx())
    assert kinds(events) == ["lock.state", "device.low_battery"]
    assert events[1].values == {"battery_low": True, "battery_pct": 60}


def test_battery_only_report_is_kept_as_a_heartbeat() -> None:
    [event] = decode(message(battery=64, linkquality=90), ctx())
    assert event.kind == "device.heartbeat" and event.values == {"battery_pct": 64}


def test_nothing_to_say() -> None:
    assert decode(message(linkquality=90), ctx()) == []


@pytest.mark.parametrize(
    ("name", "device_id"),
    [
        ("front_door", "z2m:front_door"),
        ("Building 3/Unit 2/Front Door", "z2m:Building_3_Unit_2_Front_Door"),
        ("门锁-1.a", "z2m:__-1.a"),
        ("x" * 150, "z2m:" + "x" * 100),
    ],
)
def test_friendly_names_become_safe_ids(name: str, device_id: str) -> None:
    assert decode(GOLDEN, ctx(name))[0].device_id == device_id
    assert sanitize_name(name) == device_id.removeprefix("z2m:")


@pytest.mark.parametrize("name", [None, ""])
def test_no_name_is_an_error(name: str | None) -> None:
    with pytest.raises(Z2mDecodeError, match="friendly name"):
        decode(GOLDEN, ctx(name))


# -- availability --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"online", True),
        (b"offline", False),
        (b" online\n", True),
        (b'{"state":"online"}', True),
        (b'{"state": "offline"}', False),
        (b"ONLINE", None),
        (b'{"state": 1}', None),
        (b"[]", None),
        (b"{", None),
        (b"", None),
    ],
)
def test_availability_of(payload: bytes, expected: bool | None) -> None:
    assert availability_of(payload) is expected


def test_online_is_a_login_offline_is_no_event() -> None:
    [login] = decode_availability(b"online", ctx())
    assert login.kind == "device.login" and login.device_id == "z2m:front_door"
    assert login.values == {"availability": "online"}
    assert decode_availability(b'{"state":"offline"}', ctx()) == []


def test_garbage_availability_is_an_error() -> None:
    with pytest.raises(Z2mDecodeError, match="online or offline"):
        decode_availability(b"maybe", ctx())


# -- command -------------------------------------------------------------------------


def test_set_command() -> None:
    assert json.loads(set_command("LOCK")) == {"state": "LOCK"}
    assert json.loads(set_command("UNLOCK")) == {"state": "UNLOCK"}
    assert command_topic("zigbee2mqtt", "front_door") == "zigbee2mqtt/front_door/set"
    with pytest.raises(ValueError, match="LOCK or UNLOCK"):
        set_command("OPEN")  # type: ignore[arg-type]


def test_adapter_declaration() -> None:
    assert (ADAPTER.name, ADAPTER.family, ADAPTER.transport) == (
        "z2m_lock",
        DeviceFamily.LOCK,
        "mqtt",
    )
    assert kinds(ADAPTER.decode(GOLDEN, ctx())) == ["lock.state", "lock.unlocked"]


# -- malformed -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"LOCK", "not JSON"),
        (b"\xc3\x28", "not UTF-8"),
        (b'"LOCK"', "expected a JSON object"),
        (b'{"battery": Infinity}', "not JSON"),
        (message(state=1), "state must be a string"),
        (message(lock_state=["locked"]), "lock_state must be a string"),
        (message(action=3), "action must be a string"),
        (message(action_source_name={"a": 1}), "action_source_name"),
        (message(action="unlock", action_user=-1), "action_user out of range"),
        (message(action="unlock", action_user=True), "action_user must be a string"),
        (message(battery="87"), "battery must be a number"),
        (message(battery=101), "battery out of range"),
        (message(battery=-1), "battery out of range"),
        (message(battery_low="yes"), "battery_low must be true or false"),
        (message(state="x" * 65), "longer than"),
    ],
)
def test_malformed_messages(payload: bytes, reason: str) -> None:
    with pytest.raises(Z2mDecodeError, match=reason):
        decode(payload, ctx())


# -- properties ----------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ["state", "lock_state", "action", "action_source_name", "action_user", "battery"]
FIELDS += ["battery_low", "linkquality"]


def check(payload: bytes, name: str = "front_door") -> None:
    for decoder in (decode, decode_availability):
        try:
            events = decoder(payload, ctx(name))
        except Z2mDecodeError as exc:
            assert exc.reason
            continue
        for event in events:
            assert event.device_id.startswith("z2m:") and event.kind in KINDS
            assert DeviceEvent.model_validate_json(event.model_dump_json()) == event
    assert availability_of(payload) in (True, False, None)


@FUZZ
@given(st.binary(max_size=300), st.text(min_size=1, max_size=120))
def test_arbitrary_bytes_and_names(payload: bytes, name: str) -> None:
    check(payload, name)


@FUZZ
@given(json_values)
def test_arbitrary_json(value: Any) -> None:
    check(json.dumps(value).encode())


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(FIELDS),
        json_values
        | st.sampled_from(["LOCK", "unlock", "key_unlock", "unlock_failure_x", "keypad"])
        | st.integers(-5, 120),
        max_size=8,
    )
)
def test_lock_messages_with_arbitrary_values(fields: dict[str, Any]) -> None:
    check(json.dumps(fields).encode())
