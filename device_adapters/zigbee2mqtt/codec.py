"""Zigbee2MQTT lock messages (JSON over MQTT) -> DeviceEvents, and the lock command.

Pure functions; edge/mqtt_devices.py subscribes, takes the friendly name out of the
topic, and passes it as ``ctx.device_hint``.

State message on ``<base>/<friendly name>`` (Zigbee2MQTT's default JSON output; the
``attribute`` output mode is not supported and is dead-lettered):

- ``state`` / ``lock_state`` present: one ``lock.state`` event with ``state`` and
  ``lock_state``.
- ``action`` (transient; absent, null or "" means none):

  - ``lock``, ``one_touch_lock``, ``key_lock``, ``auto_lock``, ``manual_lock``:
    ``lock.locked``;
  - ``unlock``, ``key_unlock``, ``manual_unlock``: ``lock.unlocked``;
  - ``lock_failure_<reason>`` / ``unlock_failure_<reason>`` (such as
    ``unlock_failure_invalid_pin_or_id``): ``lock.unlock_failed`` with ``attempted``
    (lock or unlock) and ``reason``.

  ``method`` is what the action name says (``key``, ``manual``, ``auto``,
  ``one_touch``), else ``action_source_name`` (keypad, rfid, manual, rf); ``user`` is
  ``action_user``. Any other action is not dropped silently: it is kept as
  ``unknown_action`` on a ``lock.state`` event.
- ``battery`` (0 to 100): ``battery_pct`` on every event of the message, and a
  ``device.low_battery`` event at or below :data:`LOW_BATTERY_PCT` (or when the
  device's own ``battery_low`` flag is true). A message with a battery reading and
  nothing else gives one ``device.heartbeat`` carrying it. Other properties
  (``linkquality``, ...) are ignored; a message with none of the above gives ``[]``.

Availability on ``<base>/<friendly name>/availability`` (plain ``online``/``offline``
or the JSON form ``{"state": "online"}``; both are accepted) is decoded by
:func:`decode_availability`: ``online`` gives ``device.login``; there is no offline
kind in the vocabulary yet, so ``offline`` gives no event and the edge reads it with
:func:`availability_of`.

Frames: the golden state message is the *built* example of PROTOCOLS.md 4a; the other
actions come from the spec's property table, not from captures.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, Literal

from device_adapters.base import MessageContext
from device_adapters.errors import DecodeError
from device_adapters.kinds import KINDS
from device_adapters.model import DeviceEvent, DeviceFamily, Scalar

PROTOCOL: Final = "zigbee2mqtt"
DEVICE_ID_PREFIX: Final = "z2m"
MAX_PAYLOAD_BYTES: Final = 64 * 1024
MAX_NAME_CHARS: Final = 100
MAX_TEXT_CHARS: Final = 64
# At or below this battery percentage a lock reports device.low_battery. A policy choice,
# not part of the protocol: on typical AA-powered locks 15 % leaves the property office
# a few weeks to change the batteries before the lock stops working.
LOW_BATTERY_PCT: Final = 15

LOCK_ACTIONS: Final[dict[str, str | None]] = {
    "lock": None,
    "one_touch_lock": "one_touch",
    "key_lock": "key",
    "auto_lock": "auto",
    "manual_lock": "manual",
}
UNLOCK_ACTIONS: Final[dict[str, str | None]] = {
    "unlock": None,
    "key_unlock": "key",
    "manual_unlock": "manual",
}
_FAILURE_RE: Final = re.compile(r"(lock|unlock)_failure_([a-z0-9_]{1,48})")
_UNSAFE_RE: Final = re.compile(r"[^A-Za-z0-9_.\-]")
_AVAILABILITY: Final = {"online": True, "offline": False}


class Z2mDecodeError(DecodeError):
    """A Zigbee2MQTT message that is not a usable lock report."""


def sanitize_name(name: str) -> str:
    """A friendly name as one device id segment: unsafe characters become ``_``, max 100.

    Different names can map to the same id ("front door", "front_door"): name devices
    so that they do not.
    """
    return _UNSAFE_RE.sub("_", name)[:MAX_NAME_CHARS]


def device_id_for(name: str | None) -> str:
    if name is None or name == "":
        raise Z2mDecodeError("no friendly name: the edge must pass it from the topic")
    return f"{DEVICE_ID_PREFIX}:{sanitize_name(name)}"


def set_command(state: Literal["LOCK", "UNLOCK"]) -> bytes:
    """Payload for ``<base>/<friendly name>/set`` that locks or unlocks."""
    if state not in ("LOCK", "UNLOCK"):
        raise ValueError(f"state must be LOCK or UNLOCK, not {state!r}")
    return json.dumps({"state": state}, separators=(",", ":")).encode()


def command_topic(base_topic: str, name: str) -> str:
    return f"{base_topic}/{name}/set"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _load(payload: bytes) -> Any:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Z2mDecodeError(
            f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}", payload
        )
    try:
        return json.loads(payload.decode("utf-8-sig"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise Z2mDecodeError(f"not UTF-8: {exc.reason} at byte {exc.start}", payload) from None
    except (ValueError, RecursionError) as exc:
        raise Z2mDecodeError(f"not JSON: {str(exc)[:120]}", payload) from None


def availability_of(payload: bytes) -> bool | None:
    """True for online, False for offline, None if the payload is neither."""
    text = payload.strip()
    if text in (b"online", b"offline"):
        return text == b"online"
    if not text.startswith(b"{") or len(text) > MAX_PAYLOAD_BYTES:
        return None
    try:
        doc = _load(text)
    except Z2mDecodeError:
        return None
    if isinstance(doc, dict):
        state = doc.get("state")
        if isinstance(state, str):
            return _AVAILABILITY.get(state)
    return None


def _event(
    ctx: MessageContext, device_id: str, kind: str, values: dict[str, Scalar], raw: bytes
) -> DeviceEvent:
    info = KINDS[kind]
    return DeviceEvent(
        event_id=ctx.new_id(),
        device_id=device_id,
        family=DeviceFamily.LOCK,
        protocol=PROTOCOL,
        kind=kind,
        severity=info.severity,
        lane=info.lane,
        received_at=ctx.received_at,
        gateway_id=ctx.gateway_id,
        values=values,
        raw=raw,
    )


def decode_availability(payload: bytes, ctx: MessageContext) -> list[DeviceEvent]:
    """``online`` -> [device.login]; ``offline`` -> [] (see :func:`availability_of`)."""
    device_id = device_id_for(ctx.device_hint)
    available = availability_of(payload)
    if available is None:
        raise Z2mDecodeError(f"availability must be online or offline: {payload[:40]!r}", payload)
    if not available:
        return []
    return [_event(ctx, device_id, "device.login", {"availability": "online"}, payload)]


class _Fields:
    def __init__(self, obj: dict[str, Any], raw: bytes) -> None:
        self.obj, self.raw = obj, raw

    def fail(self, reason: str) -> Z2mDecodeError:
        return Z2mDecodeError(reason, self.raw)

    def opt_text(self, key: str) -> str | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{key} must be a string, not {type(value).__name__}")
        if len(value) > MAX_TEXT_CHARS:
            raise self.fail(f"{key} longer than {MAX_TEXT_CHARS} characters")
        return value

    def opt_user(self, key: str) -> int | str | None:
        value = self.obj.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value <= 0xFFFF:
                raise self.fail(f"{key} out of range: {value}")
            return value
        return self.opt_text(key) or None

    def opt_battery(self, key: str) -> int | float | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{key} must be a number, not {type(value).__name__}")
        if not 0 <= value <= 100:
            raise self.fail(f"{key} out of range 0..100: {value}")
        return value

    def opt_bool(self, key: str) -> bool | None:
        value = self.obj.get(key)
        if value is None or isinstance(value, bool):
            return value
        raise self.fail(f"{key} must be true or false, not {type(value).__name__}")


def decode(payload: bytes, ctx: MessageContext) -> list[DeviceEvent]:
    """Decode one state message. Raises :class:`Z2mDecodeError` (only) for bad input."""
    device_id = device_id_for(ctx.device_hint)
    doc = _load(payload)
    if not isinstance(doc, dict):
        raise Z2mDecodeError(f"expected a JSON object, got {type(doc).__name__}", payload)
    f = _Fields(doc, payload)
    state = f.opt_text("state")
    lock_state = f.opt_text("lock_state")
    action = f.opt_text("action") or None
    source = f.opt_text("action_source_name") or None
    user = f.opt_user("action_user")
    battery = f.opt_battery("battery")
    battery_low = f.opt_bool("battery_low")

    common: dict[str, Scalar] = {} if battery is None else {"battery_pct": battery}
    events: list[DeviceEvent] = []
    unknown_action: str | None = None

    def add(kind: str, values: dict[str, Scalar | None]) -> None:
        present = {k: v for k, v in values.items() if v is not None}
        events.append(_event(ctx, device_id, kind, {**present, **common}, payload))

    action_kind: str | None = None
    action_values: dict[str, Scalar | None] = {"action": action, "source": source}
    if action is not None:
        failure = _FAILURE_RE.fullmatch(action)
        if action in LOCK_ACTIONS:
            action_kind = "lock.locked"
            action_values.update(method=LOCK_ACTIONS[action] or source, user=user)
        elif action in UNLOCK_ACTIONS:
            action_kind = "lock.unlocked"
            action_values.update(method=UNLOCK_ACTIONS[action] or source, user=user)
        elif failure is not None:
            action_kind = "lock.unlock_failed"
            action_values.update(attempted=failure.group(1), reason=failure.group(2), user=user)
        else:
            unknown_action = action
    if state is not None or lock_state is not None or unknown_action is not None:
        add(
            "lock.state",
            {"state": state, "lock_state": lock_state, "unknown_action": unknown_action},
        )
    if action_kind is not None:
        add(action_kind, action_values)
    if battery_low or (battery is not None and battery <= LOW_BATTERY_PCT):
        add("device.low_battery", {"battery_low": battery_low})
    if not events and battery is not None:
        # A battery-only report: keep the reading rather than drop it.
        add("device.heartbeat", {})
    return events
