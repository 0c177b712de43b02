"""IW frame content -> normalized DeviceEvents (PROTOCOLS.md 1b).

Field layouts and where they come from (*real* = a frame captured from a device, in
PROTOCOLS.md or in Traccar's public ``TrvProtocolDecoderTest``; *spec* = only the
PROTOCOLS.md table or third-party parsers, no real frame seen):

- ``00`` login: ``IWAP00<IMEI>#`` (real). -> ``device.login`` {imei}.
- ``01`` location, ``10`` alarm (real): one run of fixed-width fields, then
  ``,MCC,MNC,LAC,CID``; type ``10`` then has ``,<alarm code>,<language>,<reply flag>``;
  both end with optional Wi-Fi ``SSID|MAC|RSSI&...``. The run is
  ``yymmdd`` ``A|V`` ``ddmm.mmmm`` ``N|S`` ``dddmm.mmmm`` ``E|W`` speed ``ddd.d`` km/h
  ``hhmmss`` (UTC) course (6 chars) GSM ``ddd`` satellites ``ddd`` battery ``ddd`` acc ``d``
  arm ``dd`` mode ``dd`` (Traccar also allows 3 to 5 more digits: accepted, ignored).
  -> ``wristband.position``; a ``10`` adds its alarm event.
- Alarm codes of ``10`` (spec: from third-party parsers, the real frames only show 00
  and 01): 00 none, 01 SOS, 03 not worn, 05/06 fall. Other codes give no alarm event;
  ``alarm_code`` is always in the values.
- ``02`` cell/Wi-Fi location (real): ``,<language>,<reply flag>,<cell count>,MCC,MNC,``
  then ``LAC|CID|RSSI`` per cell, ``,<Wi-Fi count>,`` and ``SSID|MAC|RSSI&...``.
  -> ``wristband.position`` without coordinates.
- ``03`` heartbeat (real): ``,<GSM sats battery acc arm mode as in 01>,<steps>,<rolls>``.
  -> ``wristband.heartbeat``. Rolls are reported as ``tumbles``, the name the Watch
  codec gives the same count, so one rule reads both.
- ``49`` (real) ``,<heart rate>``; ``HT`` (real) ``,<heart rate>,<systolic>,<diastolic>``;
  ``HP`` (real) ``,<heart rate>,<systolic>,<diastolic>,<SpO2>,<blood sugar>,<temp>,...``;
  ``50`` (real) ``,<temperature>,<battery>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final
from uuid import UUID, uuid4

from device_adapters.event_factory import EventFactory
from device_adapters.iw.codec import LOGIN, PROTOCOL, IwDecodeError, IwFrame
from device_adapters.model import DeviceEvent, DeviceFamily, Scalar
from device_adapters.watch.normalize import (
    BODY_TEMP_RANGE_C,
    DECIMAL_RE,
    UINT_RE,
    position_fields,
    present,
)

_LOCATION_RE: Final = re.compile(
    r"(?P<date>[0-9]{6})(?P<fix>[AV])"
    r"(?P<lat_deg>[0-9]{2})(?P<lat_min>[0-9]{2}\.[0-9]{1,6})(?P<ns>[NS])"
    r"(?P<lon_deg>[0-9]{3})(?P<lon_min>[0-9]{2}\.[0-9]{1,6})(?P<ew>[EW])"
    r"(?P<speed>[0-9]{3}\.[0-9])(?P<time>[0-9]{6})(?P<course>[0-9.]{6})"
    r"(?P<gsm>[0-9]{3})(?P<sats>[0-9]{3})(?P<battery>[0-9]{3})"
    r"(?P<acc>[0-9])(?P<arm>[0-9]{2})(?P<mode>[0-9]{2})(?:[0-9]{3,5})?"
)
_STATUS_RE: Final = re.compile(
    r"(?P<gsm>[0-9]{3})(?P<sats>[0-9]{3})(?P<battery>[0-9]{3})"
    r"(?P<acc>[0-9])(?P<arm>[0-9]{2})(?P<mode>[0-9]{2})[0-9]{0,20}"
)
_ALARM_CODE_RE: Final = re.compile(r"[0-9]{2}")

# Third-party parsers (see the module docstring); verify against devices.
ALARM_CODES: Final[dict[str, str]] = {
    "01": "wristband.sos",
    "03": "wristband.removed",
    "05": "wristband.fall",
    "06": "wristband.fall",
}

# Fields of 01/10 after the location run: MCC, MNC, LAC, CID; then 10 has alarm code,
# language, reply flag; then the Wi-Fi list.
_CELL_FIELDS: Final = 4
_ALARM_CODE_FIELD: Final = 1 + _CELL_FIELDS
_WIFI_FIELD: Final[dict[str, int]] = {"01": 1 + _CELL_FIELDS, "10": _ALARM_CODE_FIELD + 3}

# The PROTOCOLS.md date is yymmdd, as Traccar and the real frames read it. A public
# server's sample frame (IWAP01301122V...) only makes sense as ddmmyy, so when yymmdd
# puts the fix more than this far after its arrival and ddmmyy does not, ddmmyy wins.
_MAX_CLOCK_AHEAD: Final = timedelta(days=1)


class _Fields:
    """Typed access to a frame's comma-separated fields; failures are IwDecodeError."""

    def __init__(self, frame: IwFrame) -> None:
        self.frame = frame
        body = frame.body
        # 03/49/HT/50 put a ',' after the type, 00/01/10 do not; take either.
        self.items = tuple(body[1:].split(",") if body.startswith(",") else body.split(","))

    def fail(self, reason: str) -> IwDecodeError:
        return IwDecodeError(f"{self.frame.frame_type}: {reason}", self.frame.raw)

    def text(self, i: int, name: str) -> str:
        if i >= len(self.items):
            raise self.fail(f"missing field {name}")
        return self.items[i].strip()

    def uint(self, i: int, name: str) -> int:
        s = self.text(i, name)
        if not UINT_RE.fullmatch(s):
            raise self.fail(f"{name} is not an unsigned integer: {s[:32]!r}")
        return int(s)

    def decimal(self, i: int, name: str) -> float:
        s = self.text(i, name)
        if not DECIMAL_RE.fullmatch(s):
            raise self.fail(f"{name} is not a number: {s[:32]!r}")
        return float(s)

    def has(self, i: int) -> bool:
        return i < len(self.items) and bool(self.items[i].strip())

    def opt_uint(self, i: int, name: str) -> int | None:
        return self.uint(i, name) if self.has(i) else None

    def opt_decimal(self, i: int, name: str) -> float | None:
        return self.decimal(i, name) if self.has(i) else None

    def lenient_uint(self, i: int) -> int | None:
        """For optional network data: a garbled value is left out, never an error."""
        if i < len(self.items) and UINT_RE.fullmatch(self.items[i].strip()):
            return int(self.items[i].strip())
        return None


def _coordinate(degrees: str, minutes: str, limit: int, negative: bool) -> float | None:
    deg, mins = int(degrees), float(minutes)
    value = deg + mins / 60
    if mins >= 60 or value > limit:
        return None
    # 4 decimals of a minute are ~2e-6 degree: 6 decimals keep all the precision sent.
    return round(-value if negative and value else value, 6)


def _datetime(date: str, time: str, *, day_first: bool) -> datetime | None:
    if day_first:
        day, month, year = date[0:2], date[2:4], date[4:6]
    else:
        year, month, day = date[0:2], date[2:4], date[4:6]
    try:
        return datetime(
            2000 + int(year),
            int(month),
            int(day),
            int(time[0:2]),
            int(time[2:4]),
            int(time[4:6]),
            tzinfo=UTC,
        )
    except ValueError:
        return None


def _device_time(date: str, time: str, received_at: datetime) -> datetime | None:
    """yymmdd + hhmmss (UTC); None when the clock was never set ("000000")."""
    if date == "000000":
        return None
    latest = received_at + _MAX_CLOCK_AHEAD
    as_spec = _datetime(date, time, day_first=False)
    if as_spec is not None and as_spec <= latest:
        return as_spec
    day_first = _datetime(date, time, day_first=True)
    if day_first is not None and day_first <= latest:
        return day_first
    return as_spec


class _Location:
    """The fixed-width run of a 01/10 frame, parsed; ``error`` says why it is unusable."""

    def __init__(self, f: _Fields, received_at: datetime) -> None:
        self.values: dict[str, Scalar] = {}
        self.latitude = self.longitude = 0.0
        self.gps_fix = False
        self.device_time: datetime | None = None
        self.error: str | None = None
        run = f.items[0].strip() if f.items else ""
        m = _LOCATION_RE.fullmatch(run)
        if m is None:
            self.error = f"location is not yymmdd A/V ddmm.mmmm N ...: {run[:48]!r}"
            return
        latitude = _coordinate(m["lat_deg"], m["lat_min"], 90, m["ns"] == "S")
        longitude = _coordinate(m["lon_deg"], m["lon_min"], 180, m["ew"] == "W")
        if latitude is None or longitude is None:
            self.error = f"coordinates out of range: {m['lat_deg']}{m['lat_min']}"
            self.error += f",{m['lon_deg']}{m['lon_min']}"
            return
        if not DECIMAL_RE.fullmatch(m["course"]):
            self.error = f"course is not a number: {m['course']!r}"
            return
        device_time = _device_time(m["date"], m["time"], received_at)
        if device_time is None and m["date"] != "000000":
            self.error = f"invalid date/time {m['date']} {m['time']}"
            return
        self.device_time = device_time
        self.latitude, self.longitude, self.gps_fix = latitude, longitude, m["fix"] == "A"
        self.values = {
            "gps_fix": self.gps_fix,
            "speed_kmh": float(m["speed"]),
            "course_deg": float(m["course"]),
            "gsm_signal": int(m["gsm"]),
            "satellites": int(m["sats"]),
            "battery_pct": int(m["battery"]),
            "working_mode": int(m["mode"]),
        }


def _cell_and_wifi(f: _Fields, wifi_field: int) -> dict[str, Scalar]:
    """MCC, MNC, LAC, CID after the location run, and a count of the Wi-Fi list.

    Lenient: optional and firmware-dependent, so what does not parse is left out.
    """
    out: dict[str, Scalar] = {}
    for offset, name in enumerate(("mcc", "mnc", "lac", "cid"), start=1):
        value = f.lenient_uint(offset)
        if value is not None:
            out[name] = value
    # SSIDs may hold commas: the list is everything from its field on.
    wifi = ",".join(f.items[wifi_field:])
    access_points = [ap for ap in wifi.split("&") if ap.count("|") >= 2]
    if access_points:
        out["wifi_count"] = len(access_points)
    return out


def _login(f: _Fields, make: EventFactory) -> list[DeviceEvent]:
    return [make.make("device.login", {"imei": f.frame.imei})]


def _location(f: _Fields, make: EventFactory) -> list[DeviceEvent]:
    frame_type = f.frame.frame_type
    loc = _Location(f, make.received_at)
    alarm_code: str | None = None
    if frame_type == "10":
        alarm_code = f.text(_ALARM_CODE_FIELD, "alarm code")
        if not _ALARM_CODE_RE.fullmatch(alarm_code):
            raise f.fail(f"alarm code is not 2 digits: {alarm_code[:16]!r}")
    alarm_kind = ALARM_CODES.get(alarm_code or "")
    if loc.error is not None:
        if alarm_kind is None:
            raise f.fail(loc.error)
        # Never lose an alarm to a garbled location: send it without one.
        values: dict[str, Scalar] = {
            "gps_fix": False,
            "alarm_code": alarm_code,
            "location_error": loc.error,
        }
        return [make.make(alarm_kind, values)]

    network = _cell_and_wifi(f, _WIFI_FIELD[frame_type])
    place = position_fields(
        loc.latitude, loc.longitude, gps_fix=loc.gps_fix, wifi="wifi_count" in network
    )
    values = {**place, **loc.values, **network}
    if alarm_code is not None:
        values["alarm_code"] = alarm_code
    events = [make.make("wristband.position", values, loc.device_time)]
    if alarm_kind is not None:
        # The alarm carries its frame's place, or says there was none (gps_fix, no place).
        alarm_values = {**place, "battery_pct": loc.values["battery_pct"]}
        alarm_values["alarm_code"] = alarm_code
        events.append(make.make(alarm_kind, alarm_values, loc.device_time))
    return events


def _cell_location(f: _Fields, make: EventFactory) -> list[DeviceEvent]:
    # language, reply flag, cell count, MCC, MNC, cells..., Wi-Fi count, Wi-Fi list
    cells = f.uint(2, "cell count")
    values: dict[str, Scalar] = {"gps_fix": False, "cell_count": cells}
    mcc, mnc = f.lenient_uint(3), f.lenient_uint(4)
    if mcc is not None and mnc is not None:
        values["mcc"], values["mnc"] = mcc, mnc
    wifi = f.lenient_uint(5 + cells)
    if wifi is not None:
        values["wifi_count"] = wifi
    return [make.make("wristband.position", values)]


def _status(f: _Fields, i: int) -> dict[str, Scalar]:
    """GSM, satellites, battery, acc, arm, mode: the 14-digit block of 03 (and of 01)."""
    s = f.text(i, "status")
    m = _STATUS_RE.fullmatch(s)
    if m is None:
        raise f.fail(f"status is not GSM sats battery acc arm mode digits: {s[:32]!r}")
    return {
        "gsm_signal": int(m["gsm"]),
        "satellites": int(m["sats"]),
        "battery_pct": int(m["battery"]),
        "working_mode": int(m["mode"]),
    }


def _heartbeat(f: _Fields, make: EventFactory) -> list[DeviceEvent]:
    values = _status(f, 0)
    values["steps"] = f.opt_uint(1, "steps")
    values["tumbles"] = f.opt_uint(2, "rolls")
    return [make.make("wristband.heartbeat", present(values))]


def _heart_rate(f: _Fields, make: EventFactory) -> list[DeviceEvent]:
    return [make.make("wristband.heart_rate", {"heart_rate_bpm": f.uint(0, "heart rate")})]


def _blood_pressure(f: _Fields, make: EventFactory) -> list[DeviceEvent]:
    values = {
        "systolic_mmhg": f.uint(1, "systolic"),
        "diastolic_mmhg": f.uint(2, "diastolic"),
        "heart_rate_bpm": f.opt_uint(0, "heart rate"),
    }
    return [make.make("wristband.blood_pressure", present(values))]


def _body_temp(f: _Fields, i: int) -> float:
    celsius = f.decimal(i, "temperature")
    low, high = BODY_TEMP_RANGE_C
    if not low <= celsius <= high:
        raise f.fail(f"temperature out of range {low:g}..{high:g} °C: {celsius:g}")
    return celsius


def _health(f: _Fields, make: EventFactory) -> list[DeviceEvent]:
    """HP: heart rate, systolic, diastolic, SpO2, blood sugar, temperature; any may be empty.

    Blood sugar has no event kind (and an unknown unit): it is not reported.
    """
    heart_rate = f.opt_uint(0, "heart rate")
    events: list[DeviceEvent] = []
    if f.has(1) or f.has(2):
        events += _blood_pressure(f, make)
    elif heart_rate is not None:
        events.append(make.make("wristband.heart_rate", {"heart_rate_bpm": heart_rate}))
    spo2 = f.opt_uint(3, "spo2")
    if spo2 is not None:
        if spo2 > 100:
            raise f.fail(f"spo2 above 100 %: {spo2}")
        events.append(make.make("wristband.spo2", {"spo2_pct": spo2}))
    if f.has(5):
        events.append(make.make("wristband.temperature", {"body_temp_c": _body_temp(f, 5)}))
    if not events:
        raise f.fail("no reading")
    return events


def _temperature(f: _Fields, make: EventFactory) -> list[DeviceEvent]:
    values = {"body_temp_c": _body_temp(f, 0), "battery_pct": f.opt_uint(1, "battery")}
    return [make.make("wristband.temperature", present(values))]


_Handler = Callable[[_Fields, EventFactory], list[DeviceEvent]]


def _command_answer(fields: _Fields, factory: EventFactory) -> list[DeviceEvent]:
    # IWAP16/32/40 answer the platform's commands (device_adapters/iw/commands.py): the
    # command runner reads them; they say nothing new about the wearer.
    return []


_HANDLERS: Final[dict[str, _Handler]] = {
    "16": _command_answer,
    "32": _command_answer,
    "40": _command_answer,
    LOGIN: _login,
    "01": _location,
    "02": _cell_location,
    "03": _heartbeat,
    "10": _location,
    "49": _heart_rate,
    "HT": _blood_pressure,
    "HP": _health,
    "50": _temperature,
}


def to_events(
    frame: IwFrame,
    *,
    received_at: datetime,
    gateway_id: str,
    new_id: Callable[[], UUID] = uuid4,
) -> list[DeviceEvent]:
    """Normalize one frame. Raises :class:`IwDecodeError` (only) for content it cannot use."""
    handler = _HANDLERS.get(frame.frame_type)
    if handler is None:
        raise IwDecodeError(f"unsupported type {frame.frame_type!r}", frame.raw)
    return handler(
        _Fields(frame),
        EventFactory(
            f"{PROTOCOL}:{frame.imei}",
            DeviceFamily.WRISTBAND,
            PROTOCOL,
            received_at,
            gateway_id,
            frame.raw,
            new_id,
        ),
    )
