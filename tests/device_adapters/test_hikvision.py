"""Hikvision-style access controller events: the PROTOCOLS.md 3 example, every table row,
vendor tables, malformed bodies, and property-based checks that only HikvisionDecodeError
ever escapes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_adapters.base import MessageContext
from device_adapters.hikvision import (
    ADAPTER,
    DEFAULT_VENDOR,
    VENDOR_CODE_VALUES,
    VENDOR_TABLES,
    HikvisionDecodeError,
    decode,
    decoder_for,
    with_overrides,
)
from device_adapters.hikvision.event_codes import HIKVISION, check_table
from device_adapters.kinds import KINDS
from device_adapters.model import DeviceEvent, DeviceFamily, Lane, Severity

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RECEIVED = datetime(2024, 5, 1, 0, 0, 5, tzinfo=UTC)

# PROTOCOLS.md 3, the pushed event (*built*), byte for byte (line breaks included).
GOLDEN = (
    b'{"ipAddress":"192.168.1.64","portNo":80,"protocol":"HTTP",'
    b'"dateTime":"2024-05-01T08:00:00+08:00",\n'
    b' "eventType":"AccessControllerEvent","eventState":"active",\n'
    b' "AccessControllerEvent":{"deviceName":"Gate A","majorEventType":5,"subEventType":75,\n'
    b'  "name":"Zhang San","cardReaderNo":1,"doorNo":1,"employeeNoString":"1001","serialNo":1234,\n'
    b'  "currentVerifyMode":"cardOrFace"}}'
)

# The specification table of PROTOCOLS.md 3, restated here (not read from the code's
# table) so that a wrong row in event_codes.py fails: code -> (kind, method or None).
SPEC_ROWS: dict[tuple[int, int], tuple[str, str | None]] = {
    (5, 1): ("door.access_granted", "card"),
    (5, 6): ("door.access_denied", "card"),
    (5, 9): ("door.access_denied", "card"),
    (5, 25): ("door.opened", None),
    (5, 26): ("door.closed", None),
    (5, 27): ("door.forced_open", None),
    (5, 28): ("door.held_open", None),
    (5, 23): ("door.exit_button", "exit_button"),
    (5, 75): ("door.access_granted", "face"),
    (5, 76): ("door.access_denied", "face"),
    (1, 0x40A): ("door.duress", None),
    (1, 0x404): ("device.tamper", None),
    (1, 0x406): ("device.tamper", None),
    (2, 0x403): ("device.low_battery", None),
    (2, 0x405): ("device.power_cut", None),
}


def ctx(hint: str | None = "gate-a") -> MessageContext:
    ids = iter(uuid.UUID(int=i) for i in range(1, 1000))
    return MessageContext(
        received_at=RECEIVED,
        gateway_id="gw-1",
        source="http 192.168.1.64",
        device_hint=hint,
        new_id=lambda: next(ids),
    )


def body(major: int, minor: int, **ace: Any) -> bytes:
    doc: dict[str, Any] = {
        "dateTime": "2024-05-01T08:00:00+08:00",
        "eventType": "AccessControllerEvent",
        "AccessControllerEvent": {"majorEventType": major, "subEventType": minor, **ace},
    }
    return json.dumps(doc).encode()


def golden_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(GOLDEN)
    return doc


# -- golden and table ----------------------------------------------------------------


def test_golden_face_pass() -> None:
    [event] = decode(GOLDEN, ctx())
    assert event.event_id == uuid.UUID(int=1)
    assert event.device_id == "hik:gate-a"
    assert event.family is DeviceFamily.DOOR_ACCESS
    assert event.protocol == "hikvision"
    assert event.kind == "door.access_granted"
    assert event.severity is Severity.INFORMATIONAL and event.lane is Lane.TELEMETRY
    assert event.device_time == datetime(2024, 5, 1, 0, 0, tzinfo=UTC)
    assert event.received_at == RECEIVED and event.gateway_id == "gw-1"
    assert event.values == {
        "door": 1,
        "reader": 1,
        "person_name": "Zhang San",
        "employee_no": "1001",
        "verify_mode": "cardOrFace",
        "device_name": "Gate A",
        "serial_no": 1234,
        "major": 5,
        "minor": 75,
        "method": "face",
    }
    assert event.raw == GOLDEN
    # What the edge publishes is what the hub reads back.
    assert DeviceEvent.model_validate_json(event.model_dump_json()) == event


def test_the_table_has_exactly_the_spec_rows() -> None:
    assert set(HIKVISION) == set(SPEC_ROWS)


@pytest.mark.parametrize(("code", "expected"), sorted(SPEC_ROWS.items()))
def test_every_spec_row(code: tuple[int, int], expected: tuple[str, str | None]) -> None:
    kind, method = expected
    [event] = decode(body(*code, doorNo=2, cardNo="12345678"), ctx())
    info = KINDS[kind]
    assert (event.kind, event.severity, event.lane) == (kind, info.severity, info.lane)
    assert event.values.get("method") == method
    assert (event.values["major"], event.values["minor"]) == code
    assert event.values["door"] == 2 and event.values["card_no"] == "12345678"


def test_denials_say_why() -> None:
    reasons = {
        code: decode(body(*code), ctx())[0].values["reason"] for code in [(5, 6), (5, 9), (5, 76)]
    }
    assert reasons == {
        (5, 6): "no_permission",
        (5, 9): "invalid_card",
        (5, 76): "face_not_verified",
    }


def test_tamper_says_which_part() -> None:
    assert decode(body(1, 0x404), ctx())[0].values["tamper"] == "controller"
    assert decode(body(1, 0x406), ctx())[0].values["tamper"] == "card_reader"


def test_duress_is_a_silent_critical_alarm() -> None:
    [event] = decode(body(1, 0x40A, name="Li Si", employeeNoString="2002"), ctx())
    assert event.kind == "door.duress"
    assert event.severity is Severity.CRITICAL and event.lane is Lane.ALARM
    assert KINDS[event.kind].silent
    assert event.values["person_name"] == "Li Si"


def test_unknown_code_is_rejected_with_the_code() -> None:
    with pytest.raises(HikvisionDecodeError, match=r"unknown event code major=5, minor=999"):
        decode(body(5, 999), ctx())


def test_heartbeat_gives_no_event() -> None:
    doc = {"ipAddress": "192.168.1.64", "dateTime": "2024-05-01T08:00:00+08:00"}
    assert decode(json.dumps({**doc, "eventType": "heartBeat"}).encode(), ctx()) == []


def test_legacy_numeric_employee_no_and_missing_optional_fields() -> None:
    [event] = decode(body(5, 1, employeeNo=1001), ctx())
    assert event.values == {"employee_no": "1001", "major": 5, "minor": 1, "method": "card"}


def test_utf8_names_and_bom() -> None:
    payload = "\ufeff".encode() + body(5, 75, name="张三")
    assert decode(payload, ctx())[0].values["person_name"] == "张三"


# -- time ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T08:00:00+08:00", datetime(2024, 5, 1, 0, 0, tzinfo=UTC)),
        ("2024-05-01T08:00:00+0800", datetime(2024, 5, 1, 0, 0, tzinfo=UTC)),
        ("2024-05-01T00:00:00Z", datetime(2024, 5, 1, 0, 0, tzinfo=UTC)),
        ("2024-05-01T00:00:00.250Z", datetime(2024, 5, 1, 0, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_aware_date_times(text: str, expected: datetime) -> None:
    doc = golden_doc() | {"dateTime": text}
    [event] = decode(json.dumps(doc).encode(), ctx())
    assert event.device_time == expected
    assert event.device_time is not None and event.device_time.utcoffset() is not None


def test_local_time_without_offset_is_kept_but_not_guessed() -> None:
    doc = golden_doc() | {"dateTime": "2024-05-01T08:00:00"}
    [event] = decode(json.dumps(doc).encode(), ctx())
    assert event.device_time is None
    assert event.values["device_time_local"] == "2024-05-01T08:00:00"


def test_missing_date_time_still_decodes() -> None:
    doc = golden_doc()
    del doc["dateTime"]
    [event] = decode(json.dumps(doc).encode(), ctx())
    assert event.device_time is None and event.kind == "door.access_granted"


@pytest.mark.parametrize(
    "text", ["yesterday", "2024-13-01T08:00:00Z", "2024-05-01", "2024-05-01T08:00:00+25:00"]
)
def test_bad_date_time_is_rejected(text: str) -> None:
    doc = golden_doc() | {"dateTime": text}
    with pytest.raises(HikvisionDecodeError, match="dateTime"):
        decode(json.dumps(doc).encode(), ctx())


# -- device id -----------------------------------------------------------------------


def test_no_hint_is_an_error() -> None:
    with pytest.raises(HikvisionDecodeError, match="no device id"):
        decode(GOLDEN, ctx(None))


@pytest.mark.parametrize("hint", ["", "gate a", "gate/a", "g" * 101, "门禁"])
def test_invalid_hint_is_rejected_not_rewritten(hint: str) -> None:
    with pytest.raises(HikvisionDecodeError, match="invalid device id"):
        decode(GOLDEN, ctx(hint))


# -- malformed -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "not JSON"),
        (b"<xml/>", "not JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"eventType": "AccessControllerEvent"}', "missing AccessControllerEvent"),
        (b'{"AccessControllerEvent": [5, 1]}', "must be an object"),
        (b'{"eventType": "videoloss", "AccessControllerEvent": {}}', "unsupported eventType"),
        (b'{"eventType": 7}', "eventType must be a string"),
        (b'{"AccessControllerEvent": {"subEventType": 1}}', "missing majorEventType"),
        (b'{"AccessControllerEvent": {"majorEventType": 5}}', "missing subEventType"),
        (b'{"a": NaN}', "not JSON"),
        (b"[" * 50_000, "not JSON"),
        (b'{"a": 1' + b"0" * 5000 + b"}", "not JSON"),
        (b" " * 70_000, "exceeds"),
    ],
)
def test_malformed_bodies(payload: bytes, reason: str) -> None:
    with pytest.raises(HikvisionDecodeError, match=reason) as err:
        decode(payload, ctx())
    assert err.value.reason


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("majorEventType", "5"),
        ("majorEventType", True),
        ("subEventType", 1.0),
        ("subEventType", -1),
        ("doorNo", "1"),
        ("cardReaderNo", [1]),
        ("serialNo", 2**40),
        ("name", 42),
        ("employeeNoString", {"x": 1}),
        ("cardNo", 12345678),
        ("currentVerifyMode", False),
        ("name", "x" * 300),
    ],
)
def test_wrong_field_types(field: str, value: Any) -> None:
    doc = golden_doc()
    doc["AccessControllerEvent"][field] = value
    with pytest.raises(HikvisionDecodeError, match=field):
        decode(json.dumps(doc).encode(), ctx())


# -- vendor tables -------------------------------------------------------------------


def test_every_vendor_table_uses_known_kinds() -> None:
    for table in VENDOR_TABLES.values():
        check_table(table)
    with pytest.raises(ValueError, match=r"door\.teleported"):
        check_table({(9, 9): "door.teleported"})


def test_the_example_oem_table_differs_where_documented() -> None:
    oem = decoder_for("example_oem")
    [exit_event] = oem(body(5, 22), ctx())
    assert exit_event.kind == "door.exit_button" and exit_event.values["method"] == "exit_button"
    with pytest.raises(HikvisionDecodeError, match="minor=22"):
        decode(body(5, 22), ctx())  # not a Hikvision code
    with pytest.raises(HikvisionDecodeError, match="minor=75"):
        oem(body(5, 75), ctx())  # no face reader on that firmware
    assert oem(body(5, 27), ctx())[0].kind == "door.forced_open"  # shared rows stay


def test_a_deployment_can_add_a_vendor_table(monkeypatch: pytest.MonkeyPatch) -> None:
    table = with_overrides(HIKVISION, {(5, 27): None, (5, 100): "door.forced_open"})
    monkeypatch.setitem(VENDOR_TABLES, "acme", table)
    monkeypatch.setitem(VENDOR_CODE_VALUES, "acme", {})
    [event] = decode(body(5, 100), ctx(), vendor="acme")
    assert event.kind == "door.forced_open" and event.severity is Severity.HIGH
    with pytest.raises(HikvisionDecodeError, match="minor=27"):
        decode(body(5, 27), ctx(), vendor="acme")
    # The default table is untouched.
    assert decode(body(5, 27), ctx())[0].kind == "door.forced_open"


def test_an_unknown_vendor_is_a_configuration_error() -> None:
    with pytest.raises(LookupError, match="nobody"):
        decoder_for("nobody")
    with pytest.raises(LookupError, match="nobody"):
        decode(GOLDEN, ctx(), vendor="nobody")


def test_adapter_declaration() -> None:
    assert ADAPTER.name == "hikvision_acs"
    assert ADAPTER.family is DeviceFamily.DOOR_ACCESS
    assert ADAPTER.transport == "http_push"
    assert DEFAULT_VENDOR == "hikvision"
    assert [e.kind for e in ADAPTER.decode(GOLDEN, ctx())] == ["door.access_granted"]


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
ACE_FIELDS = [
    "majorEventType",
    "subEventType",
    "name",
    "cardReaderNo",
    "doorNo",
    "employeeNoString",
    "employeeNo",
    "cardNo",
    "serialNo",
    "currentVerifyMode",
    "deviceName",
]
TOP_FIELDS = ["dateTime", "eventType", "AccessControllerEvent"]


def check(payload: bytes, hint: str | None = "gate-a") -> None:
    try:
        events = decode(payload, ctx(hint))
    except HikvisionDecodeError as exc:
        assert exc.reason
        return
    for event in events:
        assert event.device_id == "hik:gate-a"
        assert event.kind in KINDS
        assert DeviceEvent.model_validate_json(event.model_dump_json()) == event


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_decode_errors(payload: bytes) -> None:
    check(payload)


@FUZZ
@given(json_values)
def test_arbitrary_json_raises_only_decode_errors(value: Any) -> None:
    check(json.dumps(value).encode())


@FUZZ
@given(
    st.dictionaries(st.sampled_from(ACE_FIELDS), json_values, max_size=6),
    st.dictionaries(st.sampled_from(TOP_FIELDS[:2]), json_values, max_size=2),
    st.sampled_from(sorted(SPEC_ROWS)),
)
def test_events_with_arbitrary_field_values(
    ace: dict[str, Any], top: dict[str, Any], code: tuple[int, int]
) -> None:
    doc = golden_doc()
    doc["AccessControllerEvent"].update(majorEventType=code[0], subEventType=code[1])
    doc["AccessControllerEvent"].update(ace)
    doc.update(top)
    check(json.dumps(doc).encode())


@FUZZ
@given(st.integers(0, len(GOLDEN)), st.binary(max_size=3))
def test_cut_and_spliced_golden(at: int, junk: bytes) -> None:
    check(GOLDEN[:at] + junk)
