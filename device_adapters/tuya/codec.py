"""Tuya Wi-Fi lock data points (PROTOCOLS.md 4b) -> DeviceEvents.

Tuya locks speak to their cloud or to a local Tuya->MQTT bridge; the wire format of
the Tuya protocol itself is the bridge's business. This codec reads what **our bridge**
publishes on ``<tuya base>/<devId>/state``, one JSON object per data-point report::

    {"devId": "bf0123456789abcdef", "dps": {"1": 3, "8": 1040, "12": 87}, "t": 1714550400}

- ``devId``: the Tuya device id (sanitized into ``tuya:<devId>``: characters outside
  ``[A-Za-z0-9_.-]`` become ``_``, at most 100). May be omitted when the topic names the
  device; when both are given they must agree.
- ``dps``: data point number (a decimal string) -> value (integer, boolean or string).
- ``t``: optional, when the bridge received the report, in Unix seconds (values above
  10^11 are read as milliseconds); becomes ``device_time``.

Data points:

===== ==========================================================================
DP    events
===== ==========================================================================
1-5   ``lock.unlocked``, method fingerprint / password / temporary_password /
      dynamic_password / card, ``user`` = the value (user number)
15    ``lock.unlocked``, method app, ``user`` = the value
8     alarm bitfield, one event per set bit (:data:`ALARM_BITS`); ``alarm`` = the value
12    battery %: ``battery_pct`` on every event of the message; a ``device.low_battery``
      at or below :data:`LOW_BATTERY_PCT` unless DP 8 already reports it (bit 1024 or
      2048)
16    hijack (duress): ``lock.duress`` (silent, see device_adapters.kinds) and, since the
      door opens, ``lock.unlocked`` with method ``duress`` unless an unlock DP of the
      same report already says how it opened; true or a user number, false = none
19    ``lock.doorbell`` when true (or a non-zero number)
===== ==========================================================================

Nothing is dropped silently: data points this table does not know are listed in
``unknown_dps`` (comma-joined numbers) and DP 8 bits it does not know in
``unknown_alarm_bits``, on every event of the message; a report that yields no event
but carries a battery reading or unknown data gives one ``device.heartbeat`` to carry
them. A report with nothing to say (``{"dps": {}}``, alarm 0) gives ``[]``.

Frames: every example is *built* from the spec table; no real capture was available.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import IntFlag
from typing import Any, Final

from device_adapters.base import MessageContext
from device_adapters.errors import DecodeError
from device_adapters.kinds import KINDS
from device_adapters.model import DeviceEvent, DeviceFamily, Scalar

PROTOCOL: Final = "tuya"
DEVICE_ID_PREFIX: Final = "tuya"
MAX_PAYLOAD_BYTES: Final = 64 * 1024
MAX_DEV_ID_CHARS: Final = 100
# Same policy as the Zigbee locks (device_adapters.zigbee2mqtt.LOW_BATTERY_PCT).
LOW_BATTERY_PCT: Final = 15

UNLOCK_DPS: Final[dict[int, str]] = {
    1: "fingerprint",
    2: "password",
    3: "temporary_password",
    4: "dynamic_password",
    5: "card",
    15: "app",
}
ALARM_DP: Final = 8
BATTERY_DP: Final = 12
DURESS_DP: Final = 16
DOORBELL_DP: Final = 19
KNOWN_DPS: Final = frozenset({*UNLOCK_DPS, ALARM_DP, BATTERY_DP, DURESS_DP, DOORBELL_DP})


class AlarmBit(IntFlag):
    WRONG_FINGER = 1
    WRONG_PASSWORD = 2
    WRONG_CARD = 4
    WRONG_FACE = 8
    JAMMED_CLOSED = 16
    HIGH_TEMPERATURE = 32
    OPEN_TOO_LONG = 64
    JAMMED_OPEN = 128
    FORCED = 256
    KEY_LEFT_IN = 512
    BATTERY_LOW = 1024
    BATTERY_DEAD = 2048
    SHOCK = 4096


KNOWN_ALARM_BITS: Final = sum(int(bit) for bit in AlarmBit)

# DP 8: bit -> (kind, values of that bit's event). One event per set bit.
ALARM_BITS: Final[tuple[tuple[AlarmBit, str, dict[str, str]], ...]] = (
    (AlarmBit.WRONG_FINGER, "lock.unlock_failed", {"reason": "wrong_finger"}),
    (AlarmBit.WRONG_PASSWORD, "lock.unlock_failed", {"reason": "wrong_password"}),
    (AlarmBit.WRONG_CARD, "lock.unlock_failed", {"reason": "wrong_card"}),
    (AlarmBit.WRONG_FACE, "lock.unlock_failed", {"reason": "wrong_face"}),
    (AlarmBit.JAMMED_CLOSED, "lock.jammed", {"jammed": "closed"}),
    (AlarmBit.HIGH_TEMPERATURE, "lock.high_temperature", {}),
    (AlarmBit.OPEN_TOO_LONG, "lock.door_held_open", {}),
    (AlarmBit.JAMMED_OPEN, "lock.jammed", {"jammed": "open"}),
    (AlarmBit.FORCED, "lock.tamper", {"reason": "pry"}),
    (AlarmBit.KEY_LEFT_IN, "lock.key_left_in", {}),
    (AlarmBit.BATTERY_LOW, "device.low_battery", {}),
    (AlarmBit.BATTERY_DEAD, "device.battery_dead", {}),
    (AlarmBit.SHOCK, "lock.shock", {}),
)

_UNSAFE_RE: Final = re.compile(r"[^A-Za-z0-9_.\-]")
_DP_RE: Final = re.compile(r"[0-9]{1,3}")
_MAX_VALUE: Final = 2**31 - 1
_MIN_T: Final = 946_684_800  # 2000-01-01
_MAX_T: Final = 4_102_444_800  # 2100-01-01
_MS_ABOVE: Final = 10**11


class TuyaDecodeError(DecodeError):
    """A data-point report that is not a usable Tuya lock message."""


def sanitize_dev_id(dev_id: str) -> str:
    return _UNSAFE_RE.sub("_", dev_id)[:MAX_DEV_ID_CHARS]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _load(payload: bytes) -> Any:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise TuyaDecodeError(
            f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}", payload
        )
    try:
        return json.loads(payload.decode("utf-8-sig"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise TuyaDecodeError(f"not UTF-8: {exc.reason} at byte {exc.start}", payload) from None
    except (ValueError, RecursionError) as exc:
        raise TuyaDecodeError(f"not JSON: {str(exc)[:120]}", payload) from None


def _device_id(doc: dict[str, Any], hint: str | None, raw: bytes) -> str:
    dev_id = doc.get("devId")
    if dev_id is not None and (not isinstance(dev_id, str) or dev_id == ""):
        raise TuyaDecodeError("devId must be a non-empty string", raw)
    if dev_id is not None and len(dev_id) > 256:
        raise TuyaDecodeError("devId longer than 256 characters", raw)
    if dev_id is not None and hint is not None and sanitize_dev_id(hint) != sanitize_dev_id(dev_id):
        raise TuyaDecodeError(
            f"devId {dev_id[:40]!r} does not match the topic's {hint[:40]!r}", raw
        )
    name = dev_id if dev_id is not None else hint
    if not name:
        raise TuyaDecodeError("no devId in the message and none from the topic", raw)
    return f"{DEVICE_ID_PREFIX}:{sanitize_dev_id(name)}"


def _device_time(doc: dict[str, Any], raw: bytes) -> datetime | None:
    t = doc.get("t")
    if t is None:
        return None
    if isinstance(t, bool) or not isinstance(t, int):
        raise TuyaDecodeError(f"t must be an integer, not {type(t).__name__}", raw)
    seconds = t / 1000 if t > _MS_ABOVE else t
    if not _MIN_T <= seconds <= _MAX_T:
        raise TuyaDecodeError(f"t out of range: {t}", raw)
    return datetime.fromtimestamp(seconds, UTC)


def _int_value(dp: int, value: Any, raw: bytes, low: int = 0, high: int = _MAX_VALUE) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TuyaDecodeError(f"DP {dp} must be an integer, not {type(value).__name__}", raw)
    if not low <= value <= high:
        raise TuyaDecodeError(f"DP {dp} out of range {low}..{high}: {value}", raw)
    return value


def _flag_value(dp: int, value: Any, raw: bytes) -> tuple[bool, int | None]:
    """A DP that is either a boolean or a user number: (set, user)."""
    if isinstance(value, bool):
        return value, None
    return True, _int_value(dp, value, raw)


def decode(payload: bytes, ctx: MessageContext) -> list[DeviceEvent]:
    """Decode one data-point report. Raises :class:`TuyaDecodeError` (only) for bad input."""
    doc = _load(payload)
    if not isinstance(doc, dict):
        raise TuyaDecodeError(f"expected a JSON object, got {type(doc).__name__}", payload)
    device_id = _device_id(doc, ctx.device_hint, payload)
    device_time = _device_time(doc, payload)
    raw_dps = doc.get("dps")
    if not isinstance(raw_dps, dict):
        raise TuyaDecodeError("dps must be an object of data points", payload)
    dps: dict[int, Any] = {}
    for key, value in raw_dps.items():
        if not _DP_RE.fullmatch(key):
            raise TuyaDecodeError(f"data point key must be a number: {key[:16]!r}", payload)
        dps[int(key)] = value

    unknown = sorted(dp for dp in dps if dp not in KNOWN_DPS)
    common: dict[str, Scalar] = {}
    battery: int | None = None
    if BATTERY_DP in dps:
        battery = _int_value(BATTERY_DP, dps[BATTERY_DP], payload, 0, 100)
        common["battery_pct"] = battery
    if unknown:
        common["unknown_dps"] = ",".join(str(dp) for dp in unknown)
    alarm = 0
    if ALARM_DP in dps:
        alarm = _int_value(ALARM_DP, dps[ALARM_DP], payload)
        if alarm & ~KNOWN_ALARM_BITS:
            common["unknown_alarm_bits"] = alarm & ~KNOWN_ALARM_BITS

    events: list[DeviceEvent] = []

    def add(kind: str, values: dict[str, Scalar | None]) -> None:
        info = KINDS[kind]
        present = {k: v for k, v in values.items() if v is not None}
        events.append(
            DeviceEvent(
                event_id=ctx.new_id(),
                device_id=device_id,
                family=DeviceFamily.LOCK,
                protocol=PROTOCOL,
                kind=kind,
                severity=info.severity,
                lane=info.lane,
                device_time=device_time,
                received_at=ctx.received_at,
                gateway_id=ctx.gateway_id,
                values={**present, **common},
                raw=payload,
            )
        )

    unlocked = False
    for dp, method in UNLOCK_DPS.items():
        if dp in dps:
            add("lock.unlocked", {"method": method, "user": _int_value(dp, dps[dp], payload)})
            unlocked = True
    if DURESS_DP in dps:
        duress, user = _flag_value(DURESS_DP, dps[DURESS_DP], payload)
        if duress:
            add("lock.duress", {"user": user})
            if not unlocked:
                # The door did open. The unlock itself must not reveal the duress:
                # it is visible where the silent alarm is not (the household's view).
                add("lock.unlocked", {"method": "unspecified", "user": user})
    for bit, kind, values in ALARM_BITS:
        if alarm & bit:
            add(kind, {**values, "alarm": alarm})
    if DOORBELL_DP in dps:
        rang, number = _flag_value(DOORBELL_DP, dps[DOORBELL_DP], payload)
        if rang and number != 0:
            add("lock.doorbell", {})
    battery_reported = alarm & (AlarmBit.BATTERY_LOW | AlarmBit.BATTERY_DEAD)
    if battery is not None and battery <= LOW_BATTERY_PCT and not battery_reported:
        add("device.low_battery", {})
    if not events and common:
        add("device.heartbeat", {})
    return events
