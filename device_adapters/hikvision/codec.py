"""Hikvision-style ``AccessControllerEvent`` JSON pushed over HTTP -> DeviceEvents.

Pure functions: the edge's HTTP server (edge/http_push.py) authenticates the controller,
takes the JSON part out of the request body, and calls :func:`decode` with the
controller's id as ``ctx.device_hint``.

Accepted documents (one JSON object per push, UTF-8, at most ``MAX_PAYLOAD_BYTES``):

- ``eventType`` ``"AccessControllerEvent"`` (or absent) with an ``AccessControllerEvent``
  object: one event, its kind looked up by ``(majorEventType, subEventType)`` in the
  vendor's table (:mod:`device_adapters.hikvision.event_codes`). An unknown code is a
  :class:`HikvisionDecodeError`, so the event is dead-lettered rather than guessed.
- ``eventType`` ``"heartBeat"``: a keep-alive that some controllers push when idle; it
  gives no event (``[]``).

Anything else (not JSON, not an object, a field of the wrong type, a missing
``AccessControllerEvent``, another ``eventType``) is a :class:`HikvisionDecodeError`.

``dateTime`` becomes ``device_time`` when it carries a UTC offset. Without one (the
controller's local time, zone unknown) or without ``dateTime`` the event is still
decoded, with ``device_time`` None and the text kept as ``device_time_local``: a duress
alarm must not be lost to a clock setting.

Frames: the golden example is the *built* pushed event of PROTOCOLS.md 3; the field
names of the multipart variant and of ``cardNo``/``employeeNo`` follow public decoders of
real controllers, but no real capture was available.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Final

from device_adapters.base import MessageContext
from device_adapters.errors import DecodeError
from device_adapters.hikvision.event_codes import (
    DEFAULT_VENDOR,
    VENDOR_CODE_VALUES,
    VENDOR_TABLES,
)
from device_adapters.kinds import KINDS
from device_adapters.model import DeviceEvent, DeviceFamily, Scalar

PROTOCOL: Final = "hikvision"
DEVICE_ID_PREFIX: Final = "hik"
MAX_PAYLOAD_BYTES: Final = 64 * 1024
MAX_TEXT_CHARS: Final = 256
HEARTBEAT_EVENT_TYPES: Final = frozenset({"heartBeat"})
ACS_EVENT_TYPE: Final = "AccessControllerEvent"

# The hint is an id the edge authenticated; it is used as it is, never rewritten, so two
# controllers can never collapse into one id.
_HINT_RE: Final = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
_DATETIME_RE: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
)
_MAX_INT: Final = 2**31 - 1


class HikvisionDecodeError(DecodeError):
    """A pushed body that is not a usable access controller event."""


def device_id_for(hint: str | None) -> str:
    """The canonical id of the controller the edge authenticated as ``hint``."""
    if hint is None:
        raise HikvisionDecodeError("no device id: the edge must pass the controller's id")
    if not _HINT_RE.fullmatch(hint):
        raise HikvisionDecodeError(
            f"invalid device id {hint[:40]!r}: use 1 to 100 of A-Z a-z 0-9 _ . -"
        )
    return f"{DEVICE_ID_PREFIX}:{hint}"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def load_object(payload: bytes, error: type[DecodeError]) -> dict[str, Any]:
    """Parse ``payload`` as one JSON object; every failure is ``error``."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise error(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}", payload)
    try:
        text = payload.decode("utf-8-sig")
        doc = json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8: {exc.reason} at byte {exc.start}", payload) from None
    except (ValueError, RecursionError) as exc:
        raise error(f"not JSON: {str(exc)[:120]}", payload) from None
    if not isinstance(doc, dict):
        raise error(f"expected a JSON object, got {type(doc).__name__}", payload)
    return doc


class _Fields:
    """Typed access to one JSON object; every failure is a HikvisionDecodeError."""

    def __init__(self, obj: dict[str, Any], where: str, raw: bytes) -> None:
        self.obj, self.where, self.raw = obj, where, raw

    def fail(self, reason: str) -> HikvisionDecodeError:
        return HikvisionDecodeError(f"{self.where}: {reason}", self.raw)

    def opt_int(self, key: str) -> int | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{key} must be an integer, not {type(value).__name__}")
        if not 0 <= value <= _MAX_INT:
            raise self.fail(f"{key} out of range: {value}")
        return value

    def req_int(self, key: str) -> int:
        value = self.opt_int(key)
        if value is None:
            raise self.fail(f"missing {key}")
        return value

    def opt_text(self, key: str) -> str | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{key} must be a string, not {type(value).__name__}")
        if len(value) > MAX_TEXT_CHARS:
            raise self.fail(f"{key} longer than {MAX_TEXT_CHARS} characters")
        return value

    def opt_int_or_text(self, key: str) -> str | None:
        value = self.obj.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(self.opt_int(key))
        return self.opt_text(key)


def _device_time(top: _Fields) -> tuple[datetime | None, str | None]:
    text = top.opt_text("dateTime")
    if text is None or text == "":
        return None, None
    if not _DATETIME_RE.fullmatch(text):
        raise top.fail(f"dateTime is not ISO 8601: {text[:40]!r}")
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise top.fail(f"invalid dateTime {text[:40]!r}: {exc}") from None
    if value.tzinfo is None:
        return None, text
    return value, None


def decode(payload: bytes, ctx: MessageContext, vendor: str = DEFAULT_VENDOR) -> list[DeviceEvent]:
    """Decode one pushed body. Raises :class:`HikvisionDecodeError` (only) for bad input.

    ``vendor`` names the event code table; an unknown vendor is a configuration error
    (``LookupError``), not a decoding one.
    """
    try:
        table = VENDOR_TABLES[vendor]
    except KeyError:
        raise LookupError(f"no event code table for vendor {vendor!r}") from None
    code_values = VENDOR_CODE_VALUES.get(vendor, {})

    device_id = device_id_for(ctx.device_hint)
    doc = load_object(payload, HikvisionDecodeError)
    top = _Fields(doc, "event", payload)
    event_type = top.opt_text("eventType")
    if event_type in HEARTBEAT_EVENT_TYPES:
        return []
    if event_type is not None and event_type != ACS_EVENT_TYPE:
        raise top.fail(f"unsupported eventType {event_type[:40]!r}")
    acs = doc.get(ACS_EVENT_TYPE)
    if acs is None:
        raise top.fail(f"missing {ACS_EVENT_TYPE}")
    if not isinstance(acs, dict):
        raise top.fail(f"{ACS_EVENT_TYPE} must be an object, not {type(acs).__name__}")
    device_time, local_time = _device_time(top)

    f = _Fields(acs, ACS_EVENT_TYPE, payload)
    major, minor = f.req_int("majorEventType"), f.req_int("subEventType")
    kind = table.get((major, minor))
    if kind is None:
        raise HikvisionDecodeError(
            f"unknown event code major={major}, minor={minor} (0x{minor:x})", payload
        )
    employee_no = f.opt_text("employeeNoString") or f.opt_int_or_text("employeeNo")
    values: dict[str, Scalar | None] = {
        "door": f.opt_int("doorNo"),
        "reader": f.opt_int("cardReaderNo"),
        "person_name": f.opt_text("name") or None,
        "employee_no": employee_no or None,
        "card_no": f.opt_text("cardNo") or None,
        "verify_mode": f.opt_text("currentVerifyMode") or None,
        "device_name": f.opt_text("deviceName") or None,
        "serial_no": f.opt_int("serialNo"),
        "major": major,
        "minor": minor,
        "device_time_local": local_time,
    }
    values.update(code_values.get((major, minor), {}))
    info = KINDS[kind]
    event = DeviceEvent(
        event_id=ctx.new_id(),
        device_id=device_id,
        family=DeviceFamily.DOOR_ACCESS,
        protocol=PROTOCOL,
        kind=kind,
        severity=info.severity,
        lane=info.lane,
        device_time=device_time,
        received_at=ctx.received_at,
        gateway_id=ctx.gateway_id,
        values={k: v for k, v in values.items() if v is not None},
        raw=payload,
    )
    return [event]
