"""Watch frame content -> normalized DeviceEvents (PROTOCOLS.md 1a)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import IntFlag
from typing import Final
from uuid import UUID, uuid4

from device_adapters.event_factory import EventFactory
from device_adapters.model import DeviceEvent, DeviceFamily, Scalar
from device_adapters.watch.codec import PROTOCOL, WatchDecodeError, WatchFrame


class StatusFlags(IntFlag):
    """Status bits of UD*/AL/WT content (a frame may set several; unknown bits are kept)."""

    LOW_BATTERY = 1 << 0
    LEFT_GEOFENCE = 1 << 1
    ENTERED_GEOFENCE = 1 << 2
    IN_MOTION = 1 << 4
    POWER_CUT = 1 << 14
    SOS = 1 << 16
    LOW_BATTERY_2 = 1 << 17
    LEFT_GEOFENCE_2 = 1 << 18
    ENTERED_GEOFENCE_2 = 1 << 19
    TAKEN_OFF = 1 << 20
    FALL = 1 << 21
    FALL_2 = 1 << 22


# One alarm kind per meaning, in priority order; duplicated bits collapse into one event.
ALARM_BITS: Final[tuple[tuple[str, StatusFlags], ...]] = (
    ("wristband.sos", StatusFlags.SOS),
    ("wristband.fall", StatusFlags.FALL | StatusFlags.FALL_2),
    ("wristband.removed", StatusFlags.TAKEN_OFF),
    ("device.low_battery", StatusFlags.LOW_BATTERY | StatusFlags.LOW_BATTERY_2),
    ("wristband.geofence_exit", StatusFlags.LEFT_GEOFENCE | StatusFlags.LEFT_GEOFENCE_2),
    ("wristband.geofence_enter", StatusFlags.ENTERED_GEOFENCE | StatusFlags.ENTERED_GEOFENCE_2),
    ("device.power_cut", StatusFlags.POWER_CUT),
)

# AL_LTE/AL_WCDMA/UD3 are newer-firmware variants with the same field layout.
POSITION_TYPES: Final = frozenset(
    {"UD", "UD2", "UD3", "UD_LTE", "UD_WCDMA", "AL", "AL_LTE", "AL_WCDMA", "WT"}
)
# INIT/TKQ/TKQ2 only need their reply. JXTK is one fragment of a voice message (AMR audio,
# "JXTK,<?>,<file name>,<part>,<parts>,<audio>"): the hub keeps no audio, so a fragment is
# acknowledged (see codec._REPLIES) and gives no event; it is not dead-lettered either.
# The last four are the watch's answers to the platform's commands (device_adapters/
# watch/commands.py): the command runner reads them; they say nothing new about the wearer.
NO_EVENT_TYPES: Final = frozenset(
    {"INIT", "TKQ", "TKQ2", "JXTK", "CR", "CALL", "MONITOR", "MESSAGE"}
)

# ASCII only and bounded: float()/int() alone would accept "nan", "1_0", Arabic digits,
# and int() raises on over 4300 digits.
DECIMAL_RE: Final = re.compile(r"[+-]?(?:[0-9]{1,15}(?:\.[0-9]{0,15})?|\.[0-9]{1,15})")
UINT_RE: Final = re.compile(r"[0-9]{1,10}")
_HEX_RE: Final = re.compile(r"[0-9A-Fa-f]{1,16}")
_DDMMYY_RE: Final = re.compile(r"[0-9]{6}")

_REQUIRED_POSITION_FIELDS: Final = 16  # date .. status; cell and Wi-Fi data are optional


class _Fields:
    """Typed access to a frame's fields; every failure is a WatchDecodeError with the raw frame."""

    def __init__(self, frame: WatchFrame) -> None:
        self.frame = frame

    def fail(self, reason: str) -> WatchDecodeError:
        return WatchDecodeError(f"{self.frame.content_type[:32]}: {reason}", self.frame.raw)

    def text(self, i: int, name: str) -> str:
        if i >= len(self.frame.fields):
            raise self.fail(f"missing field {name}")
        return self.frame.fields[i].strip()

    def decimal(self, i: int, name: str) -> float:
        s = self.text(i, name)
        if not DECIMAL_RE.fullmatch(s):
            raise self.fail(f"{name} is not a number: {s[:32]!r}")
        return float(s)

    def uint(self, i: int, name: str) -> int:
        s = self.text(i, name)
        if not UINT_RE.fullmatch(s):
            raise self.fail(f"{name} is not an unsigned integer: {s[:32]!r}")
        return int(s)

    def opt_decimal(self, i: int, name: str) -> float | None:
        # Absent or empty secondary readings are common; garbage is still an error.
        if i >= len(self.frame.fields) or not self.frame.fields[i].strip():
            return None
        return self.decimal(i, name)

    def opt_uint(self, i: int, name: str) -> int | None:
        if i >= len(self.frame.fields) or not self.frame.fields[i].strip():
            return None
        return self.uint(i, name)

    def coordinate(self, i: int, name: str, limit: float, positive: str, negative: str) -> float:
        value = self.decimal(i, name)
        if abs(value) > limit:
            raise self.fail(f"{name} out of range: {value}")
        hemisphere = self.text(i + 1, f"{name} hemisphere")
        if hemisphere == negative:
            return -abs(value)
        # Some firmware leaves the hemisphere empty: take the number as signed.
        if hemisphere not in (positive, ""):
            raise self.fail(f"{name} hemisphere must be {positive} or {negative}")
        return value

    def device_time(self, date_i: int, time_i: int) -> datetime | None:
        date, time = self.text(date_i, "date"), self.text(time_i, "time")
        if not _DDMMYY_RE.fullmatch(date) or not _DDMMYY_RE.fullmatch(time):
            raise self.fail(f"date/time must be ddmmyy,hhmmss: {date[:16]!r},{time[:16]!r}")
        if date == "000000":
            return None  # clock never set; the alarm still matters, so do not reject it
        try:
            return datetime(
                2000 + int(date[4:6]),
                int(date[2:4]),
                int(date[0:2]),
                int(time[0:2]),
                int(time[2:4]),
                int(time[4:6]),
                tzinfo=UTC,
            )
        except ValueError as exc:
            raise self.fail(f"invalid date/time {date},{time}") from exc


def _network_summary(fields: tuple[str, ...]) -> dict[str, Scalar]:
    """Summarize cell and Wi-Fi data after the status field.

    Lenient on purpose: these fields are optional and vary by firmware, and a garbled tail
    must never cost us the SOS in front of it. Whatever parses is reported.
    """
    out: dict[str, Scalar] = {}
    items = [f.strip() for f in fields]

    def uint_at(i: int) -> int | None:
        if i < len(items) and UINT_RE.fullmatch(items[i]):
            return int(items[i])
        return None

    cells = uint_at(0)
    if cells is None:
        return out
    out["cell_count"] = cells
    p = 2  # count, timing advance
    if cells > 0:  # MCC and MNC are only sent with at least one cell
        mcc, mnc = uint_at(p), uint_at(p + 1)
        if mcc is None or mnc is None:
            return out
        out["mcc"], out["mnc"] = mcc, mnc
        p += 2 + 3 * cells  # LAC, CID, RSSI per cell
    wifi = uint_at(p)
    if wifi is None or p + 1 + 3 * wifi > len(items):
        return out
    out["wifi_count"] = wifi
    p += 1 + 3 * wifi  # SSID, MAC, RSSI per access point
    if p < len(items) and DECIMAL_RE.fullmatch(items[p]):
        out["accuracy_m"] = float(items[p])
    return out


def position_fields(
    latitude: float, longitude: float, *, gps_fix: bool, wifi: bool
) -> dict[str, Scalar]:
    """A frame's place, or none: shared with the IW codec (docs/positions.md).

    0,0 is what a watch without a fix sends (``A`` or ``V``): no place, never the Gulf of
    Guinea. Other coordinates under ``V`` are the watch's own estimate, by Wi-Fi when it
    lists access points, else by cell (LBS).
    """
    if latitude == 0.0 and longitude == 0.0:
        return {"gps_fix": gps_fix}
    source = "gps" if gps_fix else "wifi" if wifi else "lbs"
    return {
        "latitude": latitude,
        "longitude": longitude,
        "gps_fix": gps_fix,
        "position_source": source,
    }


def present(values: Mapping[str, Scalar]) -> dict[str, Scalar]:
    """The values that were reported (None means absent); shared with other wristband codecs."""
    return {k: v for k, v in values.items() if v is not None}


def _link(f: _Fields, make: EventFactory) -> list[DeviceEvent]:
    values = {
        "steps": f.opt_uint(0, "steps"),
        "tumbles": f.opt_uint(1, "tumbles"),
        "battery_pct": f.opt_uint(2, "battery"),
    }
    return [make.make("wristband.heartbeat", present(values))]


def _position(f: _Fields, make: EventFactory) -> list[DeviceEvent]:
    if len(f.frame.fields) < _REQUIRED_POSITION_FIELDS:
        raise f.fail(f"expected at least {_REQUIRED_POSITION_FIELDS} fields up to status")
    device_time = f.device_time(0, 1)
    fix = f.text(2, "fix")
    if fix not in ("A", "V"):
        raise f.fail(f"fix must be A or V: {fix[:8]!r}")
    latitude = f.coordinate(3, "latitude", 90.0, "N", "S")
    longitude = f.coordinate(5, "longitude", 180.0, "E", "W")
    status_hex = f.text(15, "status")
    if not _HEX_RE.fullmatch(status_hex):
        raise f.fail(f"status is not hex: {status_hex[:32]!r}")
    status = StatusFlags(int(status_hex, 16))
    battery = f.opt_uint(12, "battery")
    network = _network_summary(f.frame.fields[_REQUIRED_POSITION_FIELDS:])
    wifi = isinstance(count := network.get("wifi_count"), int) and count > 0
    place = position_fields(latitude, longitude, gps_fix=fix == "A", wifi=wifi)

    values: dict[str, Scalar] = {
        **place,
        "speed_kmh": f.opt_decimal(7, "speed"),
        "course_deg": f.opt_decimal(8, "course"),
        "altitude_m": f.opt_decimal(9, "altitude"),
        "satellites": f.opt_uint(10, "satellites"),
        "gsm_signal": f.opt_uint(11, "gsm signal"),
        "battery_pct": battery,
        "steps": f.opt_uint(13, "steps"),
        "tumbles": f.opt_uint(14, "tumbles"),
        "status_hex": status_hex,
        "worn": StatusFlags.TAKEN_OFF not in status,
        "in_motion": StatusFlags.IN_MOTION in status,
    }
    values.update(network)
    events = [make.make("wristband.position", present(values), device_time)]

    # The alarm carries its frame's place (or says there was none) and how sure it is.
    alarm_values = present(
        {
            **place,
            "battery_pct": battery,
            "status_hex": status_hex,
            "accuracy_m": network.get("accuracy_m"),
        }
    )
    for kind, bits in ALARM_BITS:
        if status & bits:
            events.append(make.make(kind, dict(alarm_values), device_time))
    return events


def _heart_rate(f: _Fields, make: EventFactory) -> list[DeviceEvent]:
    return [make.make("wristband.heart_rate", {"heart_rate_bpm": f.uint(0, "heart rate")})]


def _blood_pressure(f: _Fields, make: EventFactory) -> list[DeviceEvent]:
    values = {
        "systolic_mmhg": f.uint(0, "systolic"),
        "diastolic_mmhg": f.uint(1, "diastolic"),
        "heart_rate_bpm": f.opt_uint(2, "heart rate"),
    }
    return [make.make("wristband.blood_pressure", present(values))]


# Readings outside this range are not a body temperature in °C (a flag taken for the
# reading, Fahrenheit firmware): they are refused rather than raise a false alarm.
BODY_TEMP_RANGE_C: Final = (10.0, 50.0)


def _body_temp(f: _Fields, i: int) -> dict[str, Scalar]:
    celsius = f.decimal(i, "temperature")
    low, high = BODY_TEMP_RANGE_C
    if not low <= celsius <= high:
        raise f.fail(f"temperature out of range {low:g}..{high:g} °C: {celsius:g}")
    return {"body_temp_c": celsius}


def _temperature(f: _Fields, make: EventFactory) -> list[DeviceEvent]:
    """``TEMP,36.5``: the body temperature is the first field (Traccar reads it there)."""
    return [make.make("wristband.temperature", _body_temp(f, 0))]


def _body_temperature_2(f: _Fields, make: EventFactory) -> list[DeviceEvent]:
    """``btemp2,1,35.29``: a flag, then the temperature as the last numeric field.

    Traccar reads the flag then the temperature, and nothing when the flag is 0 (no valid
    measurement: no event here either). Firmware differs in what else it sends, so the
    reading is the last numeric field after the flag; a lone field is the reading itself.
    """
    fields = f.frame.fields
    if len(fields) >= 2 and fields[0].strip() == "0":
        return []
    for i in range(len(fields) - 1, 0 if len(fields) >= 2 else -1, -1):
        if DECIMAL_RE.fullmatch(fields[i].strip()):
            return [make.make("wristband.temperature", _body_temp(f, i))]
    raise f.fail("no numeric temperature field")


# The first of two oxygen fields is read as a heart rate only from this value up: below it,
# it is taken for a flag like btemp2's, so a "1" never becomes a 1 bpm reading.
_MIN_PLAUSIBLE_BPM: Final = 20


def _spo2(f: _Fields, make: EventFactory) -> list[DeviceEvent]:
    """``oxygen,98`` (SpO2 alone) or ``oxygen,72,98`` (then SpO2 is the second field).

    Traccar reads SpO2 from the second field and ignores the first; no public decoder says
    what the first is. It is reported as the heart rate when it is a plausible one.
    """
    fields = f.frame.fields
    spo2_i = 1 if len(fields) >= 2 and fields[1].strip() else 0
    spo2 = f.uint(spo2_i, "spo2")
    if spo2 > 100:
        raise f.fail(f"spo2 above 100 %: {spo2}")
    values: dict[str, Scalar] = {"spo2_pct": spo2}
    if spo2_i == 0:
        return [make.make("wristband.spo2", values)]
    first = f.opt_uint(0, "heart rate")
    if first is not None and first >= _MIN_PLAUSIBLE_BPM:
        values["heart_rate_bpm"] = first
    return [make.make("wristband.spo2", values)]


_Handler = Callable[[_Fields, EventFactory], list[DeviceEvent]]

# Keys are matched exactly except the health readings, whose case varies by firmware.
_HANDLERS: Final[dict[str, _Handler]] = {
    "LK": _link,
    **dict.fromkeys(POSITION_TYPES, _position),
}
_HANDLERS_CASELESS: Final[dict[str, _Handler]] = {
    "pulse": _heart_rate,
    "heart": _heart_rate,
    "bphrt": _blood_pressure,
    "blood": _blood_pressure,
    "temp": _temperature,
    "btemp2": _body_temperature_2,
    "oxygen": _spo2,
}


def to_events(
    frame: WatchFrame,
    *,
    received_at: datetime,
    gateway_id: str,
    new_id: Callable[[], UUID] = uuid4,
) -> list[DeviceEvent]:
    """Normalize one frame. Raises :class:`WatchDecodeError` (only) for content it cannot use.

    INIT/TKQ/TKQ2 and JXTK (voice fragments) give no events; they only need
    :func:`reply_for`.
    """
    ctype = frame.content_type
    if ctype in NO_EVENT_TYPES:
        return []
    handler = _HANDLERS.get(ctype) or _HANDLERS_CASELESS.get(ctype.lower())
    if handler is None and ctype.startswith(("AL", "UD")):
        # Vendor variants (ALCUSTOMER1, UD_xxx) keep the AL/UD field layout, as
        # Traccar's decoder assumes; dead-lettering one would lose an alarm.
        handler = _position
    if handler is None:
        raise WatchDecodeError(f"unsupported content type {ctype[:32]!r}", frame.raw)
    return handler(
        _Fields(frame),
        EventFactory(
            f"{PROTOCOL}:{frame.device_id}",
            DeviceFamily.WRISTBAND,
            PROTOCOL,
            received_at,
            gateway_id,
            frame.raw,
            new_id,
        ),
    )
