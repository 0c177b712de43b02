"""OCPP 1.6J payloads -> DeviceEvents, and the down-link command builders (PROTOCOLS.md 2a)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ocpp.messages import Call, _validate_payload
from ocpp.v16 import call
from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus

from device_adapters.errors import DecodeError
from device_adapters.model import DeviceEvent, DeviceFamily, Lane, Severity
from device_adapters.ocpp16 import (
    ADAPTER,
    AVAILABILITIES,
    STATUSES,
    OcppDecodeError,
    availability_for,
    boot_notification,
    charge_point_id_from_path,
    commands,
    device_id_for,
    heartbeat,
    meter_values,
    normalize,
    start_transaction,
    status_notification,
    stop_transaction,
)

GW = "gw-ocpp"
NOW = datetime(2024, 5, 1, 8, 0, 5, tzinfo=UTC)

# PROTOCOLS.md 2a.
REAL_BOOT = (
    b'[2,"1","BootNotification",{"chargePointVendor":"Alfen BV","chargePointModel":'
    b'"ICU Eve Mini","firmwareVersion":"#1:3.4.0-2990#N:217H;1.0-223"}]'
)
BUILT_FAULT = (
    b'[2,"42","StatusNotification",{"connectorId":1,"errorCode":"HighTemperature",'
    b'"status":"Faulted","timestamp":"2024-05-01T08:00:00Z","vendorErrorCode":"E12"}]'
)


def payload_of(raw: bytes) -> dict[str, Any]:
    frame = json.loads(raw)
    assert frame[0] == 2
    payload = frame[3]
    assert isinstance(payload, dict)
    return payload


def ids() -> Any:
    counter = iter(range(1, 1_000_000))
    return lambda: UUID(int=next(counter))


def kw(raw: bytes = b"{}") -> dict[str, Any]:
    return {"received_at": NOW, "gateway_id": GW, "raw": raw, "new_id": ids()}


def status_payload(status: str, error_code: str = "NoError", connector: int = 1) -> dict[str, Any]:
    return {"connectorId": connector, "errorCode": error_code, "status": status}


# -- the adapter ------------------------------------------------------------------------------


def test_adapter_describes_a_websocket_session_adapter_for_chargers() -> None:
    assert ADAPTER.name == "ocpp16"
    assert ADAPTER.family is DeviceFamily.CHARGER
    assert ADAPTER.transport == "websocket"
    assert ADAPTER.functions is normalize
    for name in ("boot_notification", "status_notification", "meter_values", "availability_for"):
        assert callable(getattr(ADAPTER.functions, name))


# -- availability ----------------------------------------------------------------------------

AVAILABILITY_TABLE = {
    "Available": "available",
    "Preparing": "charging",
    "Charging": "charging",
    "SuspendedEVSE": "charging",
    "SuspendedEV": "charging",
    "Finishing": "charging",
    "Reserved": "reserved",
    "Unavailable": "out_of_order",
    "Faulted": "out_of_order",
}


def test_availability_table_covers_all_nine_statuses() -> None:
    assert set(AVAILABILITY_TABLE) == set(STATUSES)
    assert len(STATUSES) == 9
    assert set(AVAILABILITY_TABLE.values()) | {"unknown"} == set(AVAILABILITIES)


@pytest.mark.parametrize(("status", "availability"), sorted(AVAILABILITY_TABLE.items()))
def test_availability_for_each_status(status: str, availability: str) -> None:
    assert availability_for(status) == availability
    event = status_notification("CP1", status_payload(status), **kw())[0]
    assert event.values["availability"] == availability
    assert event.values["status"] == status


@pytest.mark.parametrize("status", [None, "", "available", "Broken"])
def test_no_connection_or_an_unknown_status_is_unknown(status: str | None) -> None:
    assert availability_for(status) == "unknown"


# -- real and built frames ------------------------------------------------------------------


def test_real_boot_notification() -> None:
    [event] = boot_notification("ALF-0001", payload_of(REAL_BOOT), **kw(REAL_BOOT))
    assert event.kind == "charger.boot"
    assert event.device_id == "ocpp:ALF-0001"
    assert event.family is DeviceFamily.CHARGER
    assert event.protocol == "ocpp16"
    assert event.lane is Lane.TELEMETRY
    assert event.gateway_id == GW
    assert event.received_at == NOW
    assert event.event_id == UUID(int=1)
    assert event.raw == REAL_BOOT
    assert event.values == {
        "vendor": "Alfen BV",
        "model": "ICU Eve Mini",
        "firmware_version": "#1:3.4.0-2990#N:217H;1.0-223",
    }


def test_built_high_temperature_fault_gives_port_status_and_fault_alarm() -> None:
    port_status, fault = status_notification("CP1", payload_of(BUILT_FAULT), **kw(BUILT_FAULT))
    expected = {
        "port": 1,
        "status": "Faulted",
        "availability": "out_of_order",
        "error_code": "HighTemperature",
        "vendor_error_code": "E12",
    }
    assert port_status.kind == "charger.port_status"
    assert port_status.lane is Lane.TELEMETRY
    assert port_status.values == expected
    assert fault.kind == "charger.fault"
    assert fault.lane is Lane.ALARM
    assert fault.severity is Severity.HIGH
    assert fault.values == expected
    for event in (port_status, fault):
        assert event.device_time == datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)
        assert event.raw == BUILT_FAULT
    assert port_status.event_id != fault.event_id


def test_available_without_error_gives_port_status_only() -> None:
    events = status_notification("CP1", status_payload("Available", connector=0), **kw())
    assert [e.kind for e in events] == ["charger.port_status"]
    assert events[0].values["port"] == 0  # the whole charger


def test_an_error_code_while_available_is_a_fault() -> None:
    payload = {**status_payload("Available", "WeakSignal"), "info": "rssi -101"}
    events = status_notification("CP1", payload, **kw())
    assert [e.kind for e in events] == ["charger.port_status", "charger.fault"]
    assert events[1].values["error_code"] == "WeakSignal"
    assert events[1].values["availability"] == "available"
    assert events[1].values["info"] == "rssi -101"


def test_faulted_without_error_code_is_still_a_fault() -> None:
    events = status_notification("CP1", status_payload("Faulted"), **kw())
    assert [e.kind for e in events] == ["charger.port_status", "charger.fault"]


def test_snake_case_kwargs_and_call_dataclasses_read_like_json() -> None:
    camel = payload_of(BUILT_FAULT)
    snake = {
        "connector_id": 1,
        "error_code": "HighTemperature",
        "status": "Faulted",
        "timestamp": "2024-05-01T08:00:00Z",
        "vendor_error_code": "E12",
    }
    dataclass_payload = call.StatusNotification(
        connector_id=1,
        error_code=ChargePointErrorCode.high_temperature,
        status=ChargePointStatus.faulted,
        timestamp="2024-05-01T08:00:00Z",
        vendor_error_code="E12",
    )
    results = [
        [(e.kind, e.values, e.device_time) for e in status_notification("CP1", p, **kw())]
        for p in (camel, snake, dataclass_payload)
    ]
    assert results[0] == results[1] == results[2]
    # The library's enum members become plain strings.
    values = results[2][0][1]
    assert type(values["status"]) is str
    assert type(values["error_code"]) is str


def test_heartbeat() -> None:
    [event] = heartbeat("CP1", {}, **kw(b'[2,"9","Heartbeat",{}]'))
    assert event.kind == "charger.heartbeat"
    assert event.values == {}
    assert event.raw == b'[2,"9","Heartbeat",{}]'


# -- meter values ---------------------------------------------------------------------------


def sample(value: Any, measurand: str | None = None, unit: str | None = None, **extra: Any) -> Any:
    out: dict[str, Any] = {"value": value, **extra}
    if measurand is not None:
        out["measurand"] = measurand
    if unit is not None:
        out["unit"] = unit
    return out


def meter_payload(*samples: Any, timestamp: str = "2024-05-01T08:00:00Z") -> dict[str, Any]:
    return {
        "connectorId": 2,
        "transactionId": 77,
        "meterValue": [{"timestamp": timestamp, "sampledValue": list(samples)}],
    }


def test_meter_values_convert_kilo_units() -> None:
    payload = meter_payload(
        sample("7.4", "Power.Active.Import", "kW", context="Sample.Periodic"),
        sample("12.5", "Energy.Active.Import.Register", "kWh"),
    )
    [event] = meter_values("CP1", payload, **kw())
    assert event.kind == "charger.meter"
    assert event.values == {
        "port": 2,
        "transaction_id": 77,
        "power_w": 7400.0,
        "energy_wh": 12500.0,
        "context": "Sample.Periodic",
    }
    assert event.device_time == datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)


def test_meter_values_default_measurand_and_units() -> None:
    # No measurand: Energy.Active.Import.Register; no unit: Wh (W for power).
    payload = meter_payload(sample("1234"), sample(3600, "Power.Active.Import"))
    [event] = meter_values("CP1", payload, **kw())
    assert event.values["energy_wh"] == 1234.0
    assert event.values["power_w"] == 3600.0


def test_meter_values_sum_phases_unless_a_total_is_given() -> None:
    phases = [sample("2.0", "Power.Active.Import", "kW", phase=p) for p in ("L1", "L2", "L3")]
    volts = [sample(v, "Voltage", "V", phase=p) for v, p in (("229", "L1-N"), ("231", "L2-N"))]
    amps = [sample(a, "Current.Import", "A", phase=p) for a, p in (("9", "L1"), ("10", "L2"))]
    [event] = meter_values("CP1", meter_payload(*phases, *volts, *amps), **kw())
    assert event.values["power_w"] == 6000.0
    assert event.values["voltage_v"] == 230.0
    assert event.values["current_a"] == 10.0
    total = sample("5.5", "Power.Active.Import", "kW")
    [event] = meter_values("CP1", meter_payload(*phases, total), **kw())
    assert event.values["power_w"] == 5500.0


def test_meter_values_skip_what_they_do_not_understand() -> None:
    payload = meter_payload(
        sample("21", "Temperature", "Celsius"),
        sample("5", "Power.Active.Import", "kvar"),  # unknown unit for power
        sample("abc", "Energy.Active.Import.Register"),
        sample("nan", "Power.Active.Import", "W"),
        sample("999", "Energy.Active.Import.Register", "Wh", format="SignedData"),
        sample("80", "SoC", "Percent", location="EV"),
    )
    [event] = meter_values("CP1", payload, **kw())
    assert event.values == {"port": 2, "transaction_id": 77, "soc_pct": 80.0}
    only_temperature = meter_payload(sample("21", "Temperature", "Celsius"))
    assert meter_values("CP1", only_temperature, **kw()) == []


def test_meter_values_one_event_per_sampled_instant_and_lenient_units() -> None:
    payload = {
        "connector_id": 1,  # snake_case, as the ocpp library hands it over
        "meter_value": [
            {"timestamp": "2024-05-01T10:00:00+02:00", "sampled_value": [sample("1", unit="KWH")]},
            {"timestamp": "not a time", "sampled_value": [sample("2", unit="kWh")]},
        ],
    }
    first, second = meter_values("CP1", payload, **kw())
    assert first.values == {"port": 1, "energy_wh": 1000.0}
    assert first.device_time == datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)
    assert second.values["energy_wh"] == 2000.0
    assert second.device_time is None


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"meterValue": []}, "missing connectorId"),
        ({"connectorId": 1}, "missing meterValue"),
        ({"connectorId": 1, "meterValue": {}}, "meterValue is not a list"),
        ({"connectorId": 1, "meterValue": ["x"]}, "not an object"),
        ({"connectorId": 1, "meterValue": [{"sampledValue": [{}]}]}, "missing value"),
        ({"connectorId": 1, "meterValue": [{"sampledValue": [{"value": []}]}]}, "not a string"),
        ({"connectorId": True, "meterValue": []}, "connectorId is not an integer"),
        ({"connectorId": -1, "meterValue": []}, "negative"),
    ],
)
def test_meter_values_reject_malformed_structure(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(OcppDecodeError, match=reason) as info:
        meter_values("CP1", payload, **kw(b"raw-mv"))
    assert info.value.raw == b"raw-mv"


# -- transactions ---------------------------------------------------------------------------


def test_start_transaction() -> None:
    payload = {
        "connectorId": 1,
        "idTag": "04A1B2C3",
        "meterStart": 1200,
        "timestamp": "2024-05-01T08:00:00Z",
    }
    [event] = start_transaction("CP1", payload, transaction_id=501, **kw())
    assert event.kind == "charger.session_started"
    assert event.values == {
        "port": 1,
        "id_tag": "04A1B2C3",
        "meter_start_wh": 1200,
        "transaction_id": 501,
    }
    assert event.device_time == datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)


def test_stop_transaction_with_and_without_reason() -> None:
    payload = {"transactionId": 501, "meterStop": 9200, "timestamp": "2024-05-01T09:00:00Z"}
    [event] = stop_transaction("CP1", payload, port=1, **kw())
    assert event.kind == "charger.session_stopped"
    assert event.values == {
        "port": 1,
        "transaction_id": 501,
        "meter_stop_wh": 9200,
        "reason": "Local",  # the 1.6 default when absent
    }
    [event] = stop_transaction("CP1", {**payload, "reason": "EVDisconnected"}, **kw())
    assert event.values["reason"] == "EVDisconnected"
    assert "port" not in event.values


@pytest.mark.parametrize(
    ("func", "payload", "reason"),
    [
        (boot_notification, {"chargePointVendor": "X"}, "missing chargePointModel"),
        (boot_notification, {"chargePointVendor": 1, "chargePointModel": "M"}, "not a string"),
        (status_notification, {"connectorId": 1, "status": "Available"}, "missing errorCode"),
        (status_notification, {"connectorId": "1", "errorCode": "NoError"}, "not an integer"),
        (stop_transaction, {"meterStop": 1, "timestamp": "x"}, "missing transactionId"),
        (stop_transaction, {"transactionId": 1, "meterStop": "9"}, "meterStop is not a number"),
        (heartbeat, [], "not an object"),
    ],
)
def test_missing_or_mistyped_required_fields_raise_decode_error(
    func: Any, payload: Any, reason: str
) -> None:
    with pytest.raises(OcppDecodeError, match=reason):
        func("CP1", payload, **kw())


def test_start_transaction_requires_its_fields() -> None:
    with pytest.raises(OcppDecodeError, match="missing idTag"):
        start_transaction("CP1", {"connectorId": 1, "meterStart": 0}, transaction_id=1, **kw())


# -- ids and times --------------------------------------------------------------------------


def test_device_id_sanitizes_and_bounds_the_charge_point_id() -> None:
    assert device_id_for("CP-01.a:b_c") == "ocpp:CP-01.a:b_c"
    assert device_id_for("CP 1/é#") == "ocpp:CP_1___"
    assert device_id_for("x" * 64) == "ocpp:" + "x" * 64
    for bad in ("", "x" * 65):
        with pytest.raises(OcppDecodeError):
            device_id_for(bad)
    with pytest.raises(OcppDecodeError):
        heartbeat("", {}, **kw())
    assert issubclass(OcppDecodeError, DecodeError)


@pytest.mark.parametrize(
    ("path", "cp_id"),
    [
        ("/ocpp/CP1", "CP1"),
        ("/CP1", "CP1"),
        ("/ocpp/CP%201?token=x", "CP 1"),
        ("/steve/websocket/CentralSystemService/ALF-7", "ALF-7"),
    ],
)
def test_charge_point_id_from_path(path: str, cp_id: str) -> None:
    assert charge_point_id_from_path(path) == cp_id


@pytest.mark.parametrize("path", ["/", "/ocpp/", "", "/ocpp/" + "x" * 65])
def test_charge_point_id_from_path_rejects_missing_or_long_ids(path: str) -> None:
    with pytest.raises(OcppDecodeError):
        charge_point_id_from_path(path)


def test_timestamps_are_aware_utc() -> None:
    parse = normalize.parse_timestamp
    assert parse("2024-05-01T08:00:00Z") == datetime(2024, 5, 1, 8, tzinfo=UTC)
    assert parse("2018-05-29T17:37:05.495259") == datetime(2018, 5, 29, 17, 37, 5, 495259, UTC)
    parsed = parse("2024-05-01T16:00:00+08:00")
    assert parsed == datetime(2024, 5, 1, 8, tzinfo=UTC)
    assert parsed is not None and parsed.utcoffset() == timedelta(0)
    assert parse("yesterday") is None
    assert parse("0001-01-01T00:00:00+14:00") is None  # before year 1 in UTC


# -- fuzz -----------------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "connectorId",
        "connector_id",
        "status",
        "errorCode",
        "error_code",
        "timestamp",
        "info",
        "vendorErrorCode",
        "chargePointVendor",
        "chargePointModel",
        "firmwareVersion",
        "idTag",
        "meterStart",
        "meterStop",
        "transactionId",
        "reason",
        "meterValue",
        "sampledValue",
        "value",
        "measurand",
        "unit",
        "phase",
        "format",
        "context",
    ]
)
sampled_values = st.fixed_dictionaries(
    {"value": st.text(max_size=10) | st.integers() | st.floats()},
    optional={
        "measurand": st.sampled_from(
            ["Power.Active.Import", "Energy.Active.Import.Register", "SoC"]
        )
        | st.text(max_size=5),
        "unit": st.sampled_from(["W", "kW", "Wh", "kWh", "Percent"]) | st.text(max_size=4),
        "phase": st.sampled_from(["L1", "L2", "L3", "N"]),
        "format": st.sampled_from(["Raw", "SignedData"]),
        "context": st.text(max_size=8),
    },
)
timestamps = st.datetimes(timezones=st.none() | st.just(UTC)).map(datetime.isoformat) | st.text(
    max_size=30
)
# Every function's required fields, plausible or not, so the fuzz also reaches the events.
structured = st.fixed_dictionaries(
    {
        "connectorId": st.integers(min_value=-1, max_value=3) | json_values,
        "status": st.sampled_from(STATUSES) | st.text(max_size=4),
        "errorCode": st.sampled_from(["NoError", "HighTemperature"]) | st.text(max_size=4),
        "chargePointVendor": st.text(max_size=20),
        "chargePointModel": st.text(max_size=20),
        "idTag": st.text(max_size=20),
        "meterStart": st.integers() | st.floats(),
        "meterStop": st.integers() | st.floats(),
        "transactionId": st.integers(),
        "timestamp": timestamps,
        "meterValue": st.lists(
            st.fixed_dictionaries(
                {"timestamp": timestamps, "sampledValue": st.lists(sampled_values, max_size=4)}
            ),
            max_size=3,
        ),
    },
    optional={
        "info": json_values,
        "vendorErrorCode": st.text(max_size=50),
        "reason": st.text(max_size=10),
        "firmwareVersion": st.text(max_size=50),
    },
)
payloads = st.dictionaries(field_names | st.text(max_size=6), json_values, max_size=8) | structured
functions = st.sampled_from(
    [
        boot_notification,
        heartbeat,
        status_notification,
        meter_values,
        stop_transaction,
        lambda cp_id, p, **k: start_transaction(cp_id, p, transaction_id=1, **k),
    ]
)


@settings(max_examples=400, deadline=None)
@given(func=functions, payload=payloads, cp_id=st.text(min_size=0, max_size=70))
def test_arbitrary_payloads_give_serializable_events_or_decode_error(
    func: Any, payload: dict[str, Any], cp_id: str
) -> None:
    try:
        events = func(cp_id, payload, **kw(b"raw"))
    except OcppDecodeError as exc:
        assert exc.reason
        return
    assert isinstance(events, list)
    for event in events:
        assert isinstance(event, DeviceEvent)
        assert event.device_id.startswith("ocpp:")
        assert all(isinstance(v, str | int | float | bool) for v in event.values.values())
        # What the uplink sends must survive JSON both ways.
        assert DeviceEvent.model_validate_json(event.model_dump_json()) == event


# -- down-link commands ---------------------------------------------------------------------


def assert_schema_valid(payload: Any) -> dict[str, Any]:
    from ocpp.charge_point import remove_nones, serialize_as_dict, snake_to_camel_case

    body = remove_nones(snake_to_camel_case(serialize_as_dict(payload)))
    _validate_payload(Call("1", type(payload).__name__, body), "1.6")
    assert isinstance(body, dict)
    return body


def test_command_builders_make_schema_valid_calls() -> None:
    expiry = datetime(2024, 5, 1, 16, 30, tzinfo=timezone(timedelta(hours=8)))
    cases = [
        (
            commands.remote_start(1, "TAG1"),
            "RemoteStartTransaction",
            {"idTag": "TAG1", "connectorId": 1},
        ),
        (commands.remote_start(None, "TAG1"), "RemoteStartTransaction", {"idTag": "TAG1"}),
        (commands.remote_stop(501), "RemoteStopTransaction", {"transactionId": 501}),
        (
            commands.reserve_now(0, expiry, "TAG1", 9),
            "ReserveNow",
            {
                "connectorId": 0,
                "expiryDate": "2024-05-01T08:30:00.000Z",
                "idTag": "TAG1",
                "reservationId": 9,
            },
        ),
        (commands.cancel_reservation(9), "CancelReservation", {"reservationId": 9}),
        (commands.unlock_connector(2), "UnlockConnector", {"connectorId": 2}),
    ]
    for payload, action, body in cases:
        assert type(payload).__name__ == action
        assert assert_schema_valid(payload) == body


@pytest.mark.parametrize(
    "build",
    [
        lambda: commands.remote_start(0, "TAG1"),
        lambda: commands.remote_start(1, ""),
        lambda: commands.remote_start(1, "T" * 21),
        lambda: commands.remote_stop(True),
        lambda: commands.reserve_now(1, datetime(2024, 5, 1), "TAG1", 1),  # naive expiry
        lambda: commands.reserve_now(-1, NOW, "TAG1", 1),
        lambda: commands.cancel_reservation(-1),
        lambda: commands.unlock_connector(0),
    ],
)
def test_command_builders_reject_bad_arguments(build: Any) -> None:
    with pytest.raises(ValueError):
        build()
