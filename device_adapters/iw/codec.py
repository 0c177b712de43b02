"""Framing and replies of the "IW" protocol: ``IWAP<type><body>#`` up, ``IWBP<type>...#`` down.

PROTOCOLS.md 1b. Pure functions over bytes. A frame is the 4 bytes ``IWAP``, a 2-character
type (``00``, ``01``, ``HT``, ...), a body and ``#``; the body runs to the first ``#``. Only
the login frame (type ``00``) names the device (its IMEI), so a frame is always decoded
with the IMEI of its connection (see :class:`~device_adapters.iw.stream.IwStream`).

Where the layouts come from:

- Framing, the login IMEI, the replies and the three *real* frames: PROTOCOLS.md 1b,
  checked against Traccar's ``TrvProtocolDecoder`` (which decodes ``IW`` frames) and its
  test suite.
- The login reply ``IWBP00,<yyyyMMddHHmmss>,<tz>#``: the time is UTC and ``tz`` the hour
  offset the watch displays (several public servers send UTC and ``8`` for China;
  Traccar sends local time and ``0``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from device_adapters.errors import DecodeError

PROTOCOL: Final = "iw"

START: Final = b"IWAP"
END: Final = b"#"
# Longest frame accepted, '#' included. The largest real frames (a location with a dozen
# Wi-Fi access points) are a few hundred bytes.
MAX_FRAME_BYTES: Final = 2048
MIN_FRAME_BYTES: Final = len(START) + 2 + len(END)

LOGIN: Final = "00"
DEFAULT_TZ: Final = "8"  # China Standard Time, where these watches are sold and used

FRAME_TOO_LARGE: Final = "frame too large"
NO_LOGIN: Final = "no login (IWAP00) on this connection yet"
# A frame cut short by the next one: 'IWAP' came again before '#'.
TRUNCATED: Final = "'IWAP' before the '#' of the frame (truncated frame)"

_TYPE_RE: Final = re.compile(r"[0-9A-Za-z]{2}")
# Login body: the IMEI, optionally after a comma (some firmware) and before more fields.
_LOGIN_RE: Final = re.compile(r",?([0-9]{15})(?:,.*)?", re.DOTALL)
_IMEI_RE: Final = re.compile(r"[0-9]{15}")
_TZ_RE: Final = re.compile(r"[+-]?[0-9]{1,2}(?:\.[0-9]{1,2})?")


class IwDecodeError(DecodeError):
    """Bytes or content that are not valid IW protocol."""


@dataclass(frozen=True, slots=True)
class IwFrame:
    """One upstream frame, stamped with the IMEI its connection logged in with."""

    imei: str
    frame_type: str
    # Everything between the type and '#', as text (a leading ',' is kept: 03 has one,
    # 01 does not).
    body: str
    raw: bytes


def _text(data: bytes) -> str:
    # Devices send ASCII, sometimes UTF-8 (Wi-Fi names); latin-1 never fails for the rest.
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def login_imei(body: str) -> str | None:
    """The IMEI in a login frame's body, or None if there is none."""
    match = _LOGIN_RE.fullmatch(body)
    return match.group(1) if match else None


def decode_frame(raw: bytes, imei: str | None = None) -> IwFrame:
    """Decode exactly one complete frame; raises :class:`IwDecodeError` and nothing else.

    ``imei`` is the IMEI its connection logged in with. A login frame brings its own (and
    must hold a valid one); any other frame without ``imei`` is refused, since nothing
    else says which device sent it.
    """
    raw = bytes(raw)
    if not raw:
        raise IwDecodeError("empty input", raw)
    if len(raw) > MAX_FRAME_BYTES:
        raise IwDecodeError(FRAME_TOO_LARGE, raw)
    if not raw.startswith(START):
        raise IwDecodeError("frame must start with 'IWAP'", raw)
    if not raw.endswith(END):
        raise IwDecodeError("missing '#' at the end of the frame", raw)
    if raw.find(END) != len(raw) - 1:
        raise IwDecodeError("trailing bytes after '#'", raw)
    if raw.find(START, 1) >= 0:
        raise IwDecodeError(TRUNCATED, raw)
    type_bytes = raw[len(START) : len(START) + 2]
    frame_type = type_bytes.decode("latin-1")
    if len(type_bytes) < 2 or not _TYPE_RE.fullmatch(frame_type):
        raise IwDecodeError("type must be 2 letters or digits after 'IWAP'", raw)
    body = _text(raw[len(START) + 2 : -1])
    if frame_type == LOGIN:
        found = login_imei(body)
        if found is None:
            raise IwDecodeError("login (IWAP00) without a 15-digit IMEI", raw)
        imei = found
    elif imei is None:
        raise IwDecodeError(NO_LOGIN, raw)
    elif not _IMEI_RE.fullmatch(imei):
        raise IwDecodeError(f"not a 15-digit IMEI: {imei[:32]!r}", raw)
    return IwFrame(imei=imei, frame_type=frame_type, body=body, raw=raw)


def encode_frame(type_: str, body: str) -> bytes:
    """Build one upstream frame ``IWAP<type_><body>#`` (simulators and tests).

    ``body`` is the exact text after the type, e.g. ``",06000908000102,5555,30"`` for a
    heartbeat. Raises ValueError for a frame no stream could read back whole: a bad type,
    a '#' or another ``IWAP`` in it, or more than :data:`MAX_FRAME_BYTES`.
    """
    if not _TYPE_RE.fullmatch(type_):
        raise ValueError(f"type must be 2 letters or digits: {type_!r}")
    data = body.encode("utf-8")
    if END in data:
        raise ValueError("body must not contain '#'")
    if type_ == LOGIN and login_imei(body) is None:
        raise ValueError(f"a login body must hold a 15-digit IMEI: {body[:32]!r}")
    raw = START + type_.encode("ascii") + data + END
    if raw.find(START, 1) >= 0:
        raise ValueError("type and body must not hold 'IWAP' (a stream resyncs on it)")
    if len(raw) > MAX_FRAME_BYTES:
        raise ValueError(f"frame is {len(raw)} bytes, at most {MAX_FRAME_BYTES}")
    return raw


def check_tz(tz: str) -> str:
    """Validate the hour offset sent in the login reply (``8``, ``-5``, ``5.5``)."""
    if not _TZ_RE.fullmatch(tz):
        raise ValueError(f"tz must be an hour offset such as '8' or '-5': {tz!r}")
    return tz


# The watch's answers to the platform's commands (IWAP16, 32, 40): answers get no reply
# (an "IWBP16#" back would read as a malformed locate command).
COMMAND_ANSWERS: Final = frozenset({"16", "32", "40"})


def reply_for(frame: IwFrame, now: datetime, tz: str = DEFAULT_TZ) -> bytes | None:
    """The frame the server sends back: every upstream frame but a command's answer gets one.

    Login gets ``IWBP00,<now as UTC yyyyMMddHHmmss>,<tz>#`` (the watch sets its clock from
    it); every other type ``IWBP<type>#``. ``now`` must be timezone-aware.
    """
    if frame.frame_type == LOGIN:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        stamp = now.astimezone(UTC).strftime("%Y%m%d%H%M%S")
        return f"IWBP00,{stamp},{check_tz(tz)}#".encode("ascii")
    if frame.frame_type in COMMAND_ANSWERS:
        return None
    return b"IWBP" + frame.frame_type.encode("ascii") + END


def utc_now() -> datetime:
    return datetime.now(UTC)


class IwReplier:
    """``reply_for`` with its clock and time zone fixed at construction (sans-I/O).

    The adapter's default answers with the real UTC time and tz ``8``; tests inject a
    fixed clock.
    """

    def __init__(self, clock: Callable[[], datetime] = utc_now, tz: str = DEFAULT_TZ) -> None:
        self.clock = clock
        self.tz = check_tz(tz)

    def reply_for(self, frame: IwFrame) -> bytes | None:
        return reply_for(frame, self.clock(), self.tz)
