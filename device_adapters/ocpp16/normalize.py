"""OCPP 1.6J requests -> normalized DeviceEvents (PROTOCOLS.md 2a). Pure functions, no I/O.

Each function takes a request payload as any of:

- the JSON object of the message, camelCase keys (``{"connectorId": 1, ...}``);
- the keyword arguments the ``ocpp`` library hands a handler, snake_case keys;
- an ``ocpp.v16.call`` dataclass (``call.StatusNotification(...)``).

and returns the events it means. A payload that lacks what the specification
requires, or has it with the wrong type, raises :class:`OcppDecodeError` and
nothing else; readings a function does not understand (an unknown measurand or
unit, an unparseable timestamp) are left out rather than failing the message.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from functools import cache
from typing import Final
from urllib.parse import unquote
from uuid import UUID, uuid4

from device_adapters.errors import DecodeError
from device_adapters.event_factory import EventFactory
from device_adapters.model import DeviceEvent, DeviceFamily, Scalar

PROTOCOL: Final = "ocpp16"
DEVICE_ID_PREFIX: Final = "ocpp:"
MAX_CHARGE_POINT_ID: Final = 64
# Long enough for every string field OCPP 1.6 defines (CiString500 is the longest).
MAX_TEXT: Final = 500

STATUSES: Final = (
    "Available",
    "Preparing",
    "Charging",
    "SuspendedEVSE",
    "SuspendedEV",
    "Finishing",
    "Reserved",
    "Unavailable",
    "Faulted",
)
NO_ERROR: Final = "NoError"

# What residents see: five availabilities (OCPI's EVSE statuses, with INOPERATIVE
# and OUTOFORDER merged: for a resident both mean "cannot charge here").
AVAILABLE: Final = "available"
CHARGING: Final = "charging"
RESERVED: Final = "reserved"
OUT_OF_ORDER: Final = "out_of_order"
UNKNOWN: Final = "unknown"
AVAILABILITIES: Final = (AVAILABLE, CHARGING, RESERVED, OUT_OF_ORDER, UNKNOWN)

_AVAILABILITY: Final[dict[str, str]] = {
    "Available": AVAILABLE,
    "Preparing": CHARGING,
    "Charging": CHARGING,
    "SuspendedEV": CHARGING,
    "SuspendedEVSE": CHARGING,
    "Finishing": CHARGING,
    "Reserved": RESERVED,
    "Unavailable": OUT_OF_ORDER,
    "Faulted": OUT_OF_ORDER,
}

_ID_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.:\-]")
_CAMEL_HUMP: Final = re.compile(r"(?<=[a-z0-9])([A-Z])")


class OcppDecodeError(DecodeError):
    """An OCPP payload (or charge point id) that cannot be normalized."""


def availability_for(status: str | None) -> str:
    """A connector status as residents understand it; None (no connection) is "unknown"."""
    if status is None:
        return UNKNOWN
    return _AVAILABILITY.get(status, UNKNOWN)


def sanitize_charge_point_id(cp_id: str, raw: bytes = b"") -> str:
    """``cp_id`` with every character outside ``[A-Za-z0-9_.:-]`` replaced by ``_``.

    Raises OcppDecodeError for an empty id or one longer than 64 characters.
    Two ids that differ only in replaced characters become the same id.
    """
    if not isinstance(cp_id, str) or not cp_id:
        raise OcppDecodeError("charge point id is empty", raw)
    if len(cp_id) > MAX_CHARGE_POINT_ID:
        raise OcppDecodeError(f"charge point id longer than {MAX_CHARGE_POINT_ID} characters", raw)
    return _ID_UNSAFE.sub("_", cp_id)


def device_id_for(cp_id: str, raw: bytes = b"") -> str:
    """The canonical device id of a charge point: ``ocpp:<sanitized id>``."""
    return DEVICE_ID_PREFIX + sanitize_charge_point_id(cp_id, raw)


def charge_point_id_from_path(path: str) -> str:
    """The charge point id in a connection URL path (``/ocpp/CP1``, ``/CP1``, ``/CP1?x=1``).

    The id is the last path segment, percent-decoded; it is returned unsanitized.
    Raises OcppDecodeError when there is none or it is too long.
    """
    segment = path.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[-1]
    cp_id = unquote(segment, errors="replace")
    sanitize_charge_point_id(cp_id, path.encode("utf-8", "replace"))
    return cp_id


# -- reading payloads ---------------------------------------------------------------------


@cache
def _snake(camel: str) -> str:
    return _CAMEL_HUMP.sub(r"_\1", camel).lower()


def _as_mapping(payload: object, raw: bytes, what: str) -> Mapping[str, object]:
    if isinstance(payload, Mapping):
        return payload
    if dataclasses.is_dataclass(payload) and not isinstance(payload, type):
        return {f.name: getattr(payload, f.name) for f in dataclasses.fields(payload)}
    raise OcppDecodeError(f"{what} is not an object: {type(payload).__name__}", raw)


def _clean_text(value: str) -> str:
    """A plain str that serializes as JSON (no lone surrogates), at most MAX_TEXT long."""
    text = value.value if isinstance(value, Enum) else str.__str__(value)
    text = text[:MAX_TEXT]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _finite(value: object) -> float | int | None:
    """An int or finite float from a number or a numeric string; None if it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and len(value) <= 64:
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


class _Fields:
    """Typed access to one payload object; every failure is an OcppDecodeError."""

    def __init__(self, payload: object, raw: bytes, what: str) -> None:
        self.what = what
        self.raw = raw
        self.data = _as_mapping(payload, raw, what)

    def fail(self, reason: str) -> OcppDecodeError:
        return OcppDecodeError(f"{self.what}: {reason}", self.raw)

    def get(self, camel: str) -> object:
        if camel in self.data:
            return self.data[camel]
        return self.data.get(_snake(camel))

    def opt_text(self, camel: str) -> str | None:
        value = self.get(camel)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{camel} is not a string")
        return _clean_text(value)

    def text(self, camel: str) -> str:
        value = self.opt_text(camel)
        if value is None:
            raise self.fail(f"missing {camel}")
        return value

    def opt_int(self, camel: str) -> int | None:
        value = self.get(camel)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{camel} is not an integer")
        return value

    def req_int(self, camel: str) -> int:
        value = self.opt_int(camel)
        if value is None:
            raise self.fail(f"missing {camel}")
        return value

    def port(self) -> int:
        value = self.req_int("connectorId")
        if value < 0:
            raise self.fail("connectorId is negative")
        return value

    def meter_wh(self, camel: str) -> int | float:
        value = self.get(camel)
        if value is None:
            raise self.fail(f"missing {camel}")
        number = None if isinstance(value, str) else _finite(value)
        if number is None:
            raise self.fail(f"{camel} is not a number")
        return number

    def timestamp(self, camel: str) -> datetime | None:
        """Lenient: a missing or unparseable time leaves the event without device time."""
        value = self.get(camel)
        if not isinstance(value, str):
            return None
        return parse_timestamp(value)

    def items(self, camel: str) -> Sequence[object]:
        value = self.get(camel)
        if value is None:
            return ()
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise self.fail(f"{camel} is not a list")
        return value


def parse_timestamp(value: str) -> datetime | None:
    """An OCPP dateTime as an aware UTC datetime; a naive one is taken as UTC; else None."""
    if len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _factory(
    cp_id: str, raw: bytes, received_at: datetime, gateway_id: str, new_id: Callable[[], UUID]
) -> EventFactory:
    return EventFactory(
        device_id_for(cp_id, raw),
        DeviceFamily.CHARGER,
        PROTOCOL,
        received_at,
        gateway_id,
        raw,
        new_id,
    )


def boot_notification(
    cp_id: str,
    payload: object,
    *,
    received_at: datetime,
    gateway_id: str,
    raw: bytes,
    new_id: Callable[[], UUID] = uuid4,
) -> list[DeviceEvent]:
    """BootNotification -> charger.boot (vendor, model, firmware and serial numbers)."""
    make = _factory(cp_id, raw, received_at, gateway_id, new_id)
    f = _Fields(payload, raw, "BootNotification")
    values: dict[str, Scalar] = {
        "vendor": f.text("chargePointVendor"),
        "model": f.text("chargePointModel"),
        "firmware_version": f.opt_text("firmwareVersion"),
        "serial_number": f.opt_text("chargePointSerialNumber"),
        "charge_box_serial_number": f.opt_text("chargeBoxSerialNumber"),
        "meter_type": f.opt_text("meterType"),
        "meter_serial_number": f.opt_text("meterSerialNumber"),
        "iccid": f.opt_text("iccid"),
        "imsi": f.opt_text("imsi"),
    }
    return [make.make("charger.boot", values)]


def heartbeat(
    cp_id: str,
    payload: object,
    *,
    received_at: datetime,
    gateway_id: str,
    raw: bytes,
    new_id: Callable[[], UUID] = uuid4,
) -> list[DeviceEvent]:
    """Heartbeat (an empty object) -> charger.heartbeat."""
    make = _factory(cp_id, raw, received_at, gateway_id, new_id)
    _Fields(payload, raw, "Heartbeat")
    return [make.make("charger.heartbeat", {})]


def status_notification(
    cp_id: str,
    payload: object,
    *,
    received_at: datetime,
    gateway_id: str,
    raw: bytes,
    new_id: Callable[[], UUID] = uuid4,
) -> list[DeviceEvent]:
    """StatusNotification -> charger.port_status, plus charger.fault for a fault.

    A fault is the Faulted status or any errorCode other than NoError (a charger
    may report, say, WeakSignal while still Available).
    """
    make = _factory(cp_id, raw, received_at, gateway_id, new_id)
    f = _Fields(payload, raw, "StatusNotification")
    port = f.port()
    status = f.text("status")
    error_code = f.text("errorCode")
    device_time = f.timestamp("timestamp")
    values: dict[str, Scalar] = {
        "port": port,
        "status": status,
        "availability": availability_for(status),
        "error_code": error_code,
        "vendor_error_code": f.opt_text("vendorErrorCode"),
        "vendor_id": f.opt_text("vendorId"),
        "info": f.opt_text("info"),
    }
    events = [make.make("charger.port_status", values, device_time)]
    if status == "Faulted" or error_code != NO_ERROR:
        events.append(make.make("charger.fault", dict(values), device_time))
    return events


# Measurands reported, with the unit scales understood for each (unit absent: the first).
_ENERGY_UNITS: Final = {"wh": 1.0, "kwh": 1000.0}
_POWER_UNITS: Final = {"w": 1.0, "kw": 1000.0}
_MEASURANDS: Final[dict[str, tuple[str, dict[str, float], str]]] = {
    # measurand: (value name, {unit: factor}, how to combine per-phase values)
    "Energy.Active.Import.Register": ("energy_wh", _ENERGY_UNITS, "sum"),
    "Power.Active.Import": ("power_w", _POWER_UNITS, "sum"),
    "Current.Import": ("current_a", {"a": 1.0}, "max"),
    "Voltage": ("voltage_v", {"v": 1.0}, "mean"),
    "SoC": ("soc_pct", {"percent": 1.0}, "max"),
}
_DEFAULT_MEASURAND: Final = "Energy.Active.Import.Register"
_DEFAULT_UNIT: Final = {"energy_wh": "wh", "power_w": "w", "current_a": "a", "voltage_v": "v"}
# Per-phase values that add up to the total (line-to-neutral and plain line values).
_LINE_PHASES: Final = frozenset({"L1", "L2", "L3", "L1-N", "L2-N", "L3-N"})


def _combine(values: list[float], how: str) -> float:
    if how == "sum":
        return math.fsum(values)
    if how == "max":
        return max(values)
    return math.fsum(values) / len(values)


def _readings(f: _Fields, entry: object, index: int) -> tuple[dict[str, Scalar], datetime | None]:
    """One MeterValue entry -> the values understood, and its timestamp."""
    e = _Fields(entry, f.raw, f"{f.what} meterValue[{index}]")
    totals: dict[str, float] = {}
    phased: dict[str, list[float]] = {}
    context: str | None = None
    for j, item in enumerate(e.items("sampledValue")):
        s = _Fields(item, f.raw, f"{e.what} sampledValue[{j}]")
        value = s.get("value")
        if value is None:
            raise s.fail("missing value")
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise s.fail("value is not a string or number")
        if (s.opt_text("format") or "Raw") != "Raw":
            continue  # SignedData: the reading is inside a signature we do not verify
        known = _MEASURANDS.get(s.opt_text("measurand") or _DEFAULT_MEASURAND)
        number = _finite(value)
        if known is None or number is None:
            continue
        name, units, _how = known
        unit = (s.opt_text("unit") or _DEFAULT_UNIT.get(name, next(iter(units)))).lower()
        factor = units.get(unit)
        if factor is None:
            continue
        context = context or s.opt_text("context")
        phase = s.opt_text("phase")
        if phase is None:
            totals[name] = float(number) * factor
        elif phase in _LINE_PHASES:
            phased.setdefault(name, []).append(float(number) * factor)
    values: dict[str, Scalar] = {}
    for name, _units, how in _MEASURANDS.values():
        if name in totals:
            values[name] = totals[name]
        elif name in phased:
            values[name] = _combine(phased[name], how)
    if values and context is not None:
        values["context"] = context
    return values, e.timestamp("timestamp")


def _meter_events(
    f: _Fields,
    make: EventFactory,
    entries: Sequence[object],
    port: int | None,
    transaction_id: int | None,
) -> list[DeviceEvent]:
    events = []
    for i, entry in enumerate(entries):
        readings, device_time = _readings(f, entry, i)
        if not readings:
            continue
        values: dict[str, Scalar] = {"port": port, "transaction_id": transaction_id}
        values.update(readings)
        events.append(make.make("charger.meter", values, device_time))
    return events


def meter_values(
    cp_id: str,
    payload: object,
    *,
    received_at: datetime,
    gateway_id: str,
    raw: bytes,
    new_id: Callable[[], UUID] = uuid4,
) -> list[DeviceEvent]:
    """MeterValues -> one charger.meter per sampled instant that has a reading we understand.

    Values: power_w (Power.Active.Import, W or kW), energy_wh
    (Energy.Active.Import.Register, Wh or kWh; the default measurand), current_a,
    voltage_v, soc_pct, port, transaction_id and the reading context. A total
    (no phase) wins; otherwise per-phase values are summed (power, energy),
    maximized (current, SoC) or averaged (voltage). Unknown measurands or units,
    SignedData and non-numeric values are skipped.
    """
    make = _factory(cp_id, raw, received_at, gateway_id, new_id)
    f = _Fields(payload, raw, "MeterValues")
    port = f.port()
    transaction_id = f.opt_int("transactionId")
    if f.get("meterValue") is None:
        raise f.fail("missing meterValue")
    return _meter_events(f, make, f.items("meterValue"), port, transaction_id)


def start_transaction(
    cp_id: str,
    payload: object,
    *,
    transaction_id: int,
    received_at: datetime,
    gateway_id: str,
    raw: bytes,
    new_id: Callable[[], UUID] = uuid4,
) -> list[DeviceEvent]:
    """StartTransaction -> charger.session_started.

    ``transaction_id`` is the id the central system assigns in its answer.
    """
    make = _factory(cp_id, raw, received_at, gateway_id, new_id)
    f = _Fields(payload, raw, "StartTransaction")
    values: dict[str, Scalar] = {
        "port": f.port(),
        "id_tag": f.text("idTag"),
        "meter_start_wh": f.meter_wh("meterStart"),
        "transaction_id": transaction_id,
        "reservation_id": f.opt_int("reservationId"),
    }
    return [make.make("charger.session_started", values, f.timestamp("timestamp"))]


def stop_transaction(
    cp_id: str,
    payload: object,
    *,
    received_at: datetime,
    gateway_id: str,
    raw: bytes,
    port: int | None = None,
    new_id: Callable[[], UUID] = uuid4,
) -> list[DeviceEvent]:
    """StopTransaction -> charger.session_stopped (reason "Local" when absent, as 1.6 says).

    ``port`` is the connector the central system saw the transaction start on, if
    known (the request does not carry it). transactionData is not turned into
    events: its readings were normally sent as MeterValues already; it stays in raw.
    """
    make = _factory(cp_id, raw, received_at, gateway_id, new_id)
    f = _Fields(payload, raw, "StopTransaction")
    values: dict[str, Scalar] = {
        "port": port,
        "transaction_id": f.req_int("transactionId"),
        "meter_stop_wh": f.meter_wh("meterStop"),
        "reason": f.opt_text("reason") or "Local",
        "id_tag": f.opt_text("idTag"),
    }
    return [make.make("charger.session_stopped", values, f.timestamp("timestamp"))]
