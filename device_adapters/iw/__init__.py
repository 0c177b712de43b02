"""Sans-I/O codec for the "IW" wristband protocol (PROTOCOLS.md 1b).

``IWAP<type>...#`` frames up, ``IWBP<type>...#`` replies down. :class:`IwStream` turns a
connection's TCP bytes into frames (or rejected bytes) and stamps each with the IMEI of the
connection's login frame, :func:`to_events` normalizes a frame, and :class:`IwReplier`
gives the answer every frame expects (the login answer carries the time, from a clock
injected at construction). :func:`encode_frame` builds upstream frames for simulators.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from device_adapters.base import Rejected, StreamAdapter
from device_adapters.iw.codec import (
    DEFAULT_TZ,
    LOGIN,
    MAX_FRAME_BYTES,
    NO_LOGIN,
    PROTOCOL,
    IwDecodeError,
    IwFrame,
    IwReplier,
    decode_frame,
    encode_frame,
    login_imei,
    reply_for,
    utc_now,
)
from device_adapters.iw.commands import COMMANDS
from device_adapters.iw.normalize import ALARM_CODES, to_events
from device_adapters.iw.stream import IwStream
from device_adapters.model import DeviceFamily


def device_id_of(frame: IwFrame) -> str:
    return f"{PROTOCOL}:{frame.imei}"


def make_adapter(
    clock: Callable[[], datetime] = utc_now, tz: str = DEFAULT_TZ
) -> StreamAdapter[IwFrame]:
    """The IW adapter whose login replies use ``clock`` (UTC now) and hour offset ``tz``."""
    return StreamAdapter(
        name=PROTOCOL,
        family=DeviceFamily.WRISTBAND,
        description='"IW" protocol wristbands (IWAP.../IWBP... text frames over TCP)',
        new_stream=IwStream,
        device_id=device_id_of,
        to_events=to_events,
        reply_for=IwReplier(clock, tz).reply_for,
        default_port=5089,
        commands=COMMANDS,
    )


# Login replies carry the real UTC time and tz "8" (China Standard Time).
ADAPTER: StreamAdapter[IwFrame] = make_adapter()

__all__ = [
    "ADAPTER",
    "ALARM_CODES",
    "DEFAULT_TZ",
    "LOGIN",
    "MAX_FRAME_BYTES",
    "NO_LOGIN",
    "PROTOCOL",
    "IwDecodeError",
    "IwFrame",
    "IwReplier",
    "IwStream",
    "Rejected",
    "decode_frame",
    "device_id_of",
    "encode_frame",
    "login_imei",
    "make_adapter",
    "reply_for",
    "to_events",
]
