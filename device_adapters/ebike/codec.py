"""Framing of the residential e-bike pile protocol (PROTOCOLS.md 2b), and the commands down.

Frame: ``SOP LEN CMD SESSION(6) DATA SUM``, SOP 0x66 pile→gateway, 0xEE gateway→pile,
``LEN = 1 + 6 + len(DATA) + 1``, ``SUM`` = XOR of every byte from LEN to the last DATA byte.
A frame is therefore ``LEN + 2`` bytes: 10 at least (LEN 8, no DATA), 257 at most (LEN 255,
247 DATA bytes).

Pure functions over bytes. :func:`scan_frame` is the one place that decides where a frame
ends and whether it is intact; :func:`decode_frame` and
:class:`~device_adapters.ebike.stream.EbikeStream` both use it, so they agree.

Layouts the public protocol does not give are *assumptions* (see the package docstring of
:mod:`device_adapters.ebike` for the full list; verify them against a real pile):

- acknowledgements (0x05, 0x0d, 0x0e): SOP 0xEE, same CMD and SESSION, DATA = the first
  DATA byte of the report (the port; for a board warning, the warning code);
- 0x02 start charging (down): DATA = port, minutes (2 bytes, big-endian);
- 0x0b remote stop (down): DATA = port;
- 0x06 port query (down): DATA = port.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from functools import reduce
from operator import xor
from typing import Final

from device_adapters.errors import DecodeError

PROTOCOL: Final = "ebike"

PILE_SOP: Final = 0x66  # pile → gateway (note: also ASCII 'f')
GATEWAY_SOP: Final = 0xEE  # gateway → pile
SESSION_BYTES: Final = 6
MIN_LEN: Final = 1 + SESSION_BYTES + 1  # CMD + SESSION + SUM, no DATA
MAX_LEN: Final = 0xFF  # LEN is one byte
MIN_FRAME_BYTES: Final = MIN_LEN + 2  # + SOP + LEN
MAX_FRAME_BYTES: Final = MAX_LEN + 2
MAX_DATA_BYTES: Final = MAX_LEN - MIN_LEN  # 247

# DTU registration packet (see the package docstring): the pile's id, in ASCII.
MIN_PILE_ID_LEN: Final = 4
MAX_PILE_ID_LEN: Final = 32
PILE_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{4,32}")
PILE_ID_CHARS: Final = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
)

WHOLE_PILE: Final = 0xFF  # "port" 0xFF in a fault report: the whole pile


class Command(IntEnum):
    ALL_PORT_STATUS = 0x01
    START_CHARGING = 0x02
    CHARGE_FINISHED = 0x05
    PORT_STATUS = 0x06
    REMOTE_STOP = 0x0B
    FAULT_REPORT = 0x0D
    # ASSUMPTION: the public spec lists board warnings without a command byte.
    BOARD_WARNING = 0x0E


class PortState(IntEnum):
    """One byte a port in the all-port status (0x01)."""

    IDLE = 0x01
    CHARGING = 0x02


class StopReason(IntEnum):
    """Why charging finished (0x05)."""

    PAID_TIME_OR_ENERGY_USED_UP = 0x00
    STOPPED_BY_USER = 0x01
    BATTERY_FULL = 0x02
    PORT_FAULT = 0x03
    OVER_PORT_POWER_LIMIT = 0x04
    CARD_REFUND = 0x05
    NO_CHARGER_CONNECTED = 0x06


class FaultCode(IntEnum):
    """Fault report codes (0x0d)."""

    PORT_OUTPUT_FAULT = 0x01
    TOTAL_POWER_TOO_HIGH = 0x02
    POWER_SUPPLY_FAULT = 0x03


class BoardWarning(IntEnum):
    """Board (fire-safety) warnings, DATA of the board warning report (0x0e, assumed)."""

    OVER_TEMPERATURE = 1
    CABINET_DOOR_OPEN = 2
    POWER_OUTAGE = 3
    SMOKE = 4


# Reports the pile resends until acknowledged.
ACKNOWLEDGED_COMMANDS: Final = frozenset(
    {Command.CHARGE_FINISHED, Command.FAULT_REPORT, Command.BOARD_WARNING}
)

LEN_TOO_SMALL: Final = f"LEN below {MIN_LEN}"
CHECKSUM_MISMATCH: Final = "checksum mismatch"


class EbikeDecodeError(DecodeError):
    """Bytes or content that are not valid e-bike pile protocol."""


@dataclass(frozen=True, slots=True)
class EbikeFrame:
    """One checksum-verified frame. ``pile_id`` comes from the connection's DTU registration
    (the frame itself names no device); it is "" when the frame was decoded without one."""

    sop: int
    cmd: int
    session: bytes
    data: bytes
    raw: bytes
    pile_id: str


@dataclass(frozen=True, slots=True)
class Registration:
    """The DTU registration packet that opens a connection: the pile's id (``raw`` includes
    the optional CRLF)."""

    pile_id: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class FrameError:
    reason: str


class _NeedMore:
    """The bytes so far are a valid frame prefix; more are needed to decide."""


NEED_MORE: Final = _NeedMore()

_Buffer = bytes | bytearray


def checksum(body: _Buffer) -> int:
    """XOR of ``body`` (LEN .. last DATA byte)."""
    return reduce(xor, body, 0)


def scan_frame(buf: _Buffer, start: int = 0) -> int | FrameError | _NeedMore:
    """Where the frame whose SOP is at ``buf[start]`` ends (offset just past SUM).

    The caller has checked the SOP. Returns NEED_MORE while the frame is incomplete, and a
    FrameError for a LEN below the minimum or a checksum mismatch.
    """
    n = len(buf)
    if start + 1 >= n:
        return NEED_MORE
    length = buf[start + 1]
    if length < MIN_LEN:
        return FrameError(f"{LEN_TOO_SMALL} (0x{length:02X})")
    end = start + 2 + length
    if end > n:
        return NEED_MORE
    if checksum(buf[start + 1 : end - 1]) != buf[end - 1]:
        return FrameError(CHECKSUM_MISMATCH)
    return end


def build_frame(raw: bytes, pile_id: str) -> EbikeFrame:
    """An EbikeFrame from ``raw``, one complete frame already checked by :func:`scan_frame`."""
    return EbikeFrame(
        sop=raw[0],
        cmd=raw[2],
        session=raw[3 : 3 + SESSION_BYTES],
        data=raw[3 + SESSION_BYTES : -1],
        raw=raw,
        pile_id=pile_id,
    )


def decode_frame(raw: bytes, pile_id: str = "") -> EbikeFrame:
    """Decode exactly one complete frame (either direction), checksum verified.

    Raises :class:`EbikeDecodeError` and nothing else.
    """
    raw = bytes(raw)
    if not raw:
        raise EbikeDecodeError("empty input", raw)
    if raw[0] not in (PILE_SOP, GATEWAY_SOP):
        raise EbikeDecodeError(f"SOP must be 0x66 or 0xEE, not 0x{raw[0]:02X}", raw)
    end = scan_frame(raw, 0)
    if isinstance(end, _NeedMore):
        raise EbikeDecodeError(f"truncated frame ({len(raw)} bytes)", raw)
    if isinstance(end, FrameError):
        raise EbikeDecodeError(end.reason, raw)
    if end != len(raw):
        raise EbikeDecodeError(f"{len(raw) - end} trailing bytes after the frame", raw)
    return build_frame(raw, pile_id)


def encode_frame(cmd: int, session: bytes, data: bytes, *, sop: int = GATEWAY_SOP) -> bytes:
    """Build one frame, computing LEN and SUM. Raises ValueError for unencodable arguments."""
    if sop not in (PILE_SOP, GATEWAY_SOP):
        raise ValueError(f"sop must be 0x66 or 0xEE, not {sop:#x}")
    if not 0 <= cmd <= 0xFF:
        raise ValueError(f"cmd must be one byte, not {cmd}")
    session = bytes(session)
    if len(session) != SESSION_BYTES:
        raise ValueError(f"session must be {SESSION_BYTES} bytes, not {len(session)}")
    data = bytes(data)
    if len(data) > MAX_DATA_BYTES:
        raise ValueError(f"DATA is {len(data)} bytes, at most {MAX_DATA_BYTES} fit LEN")
    body = bytes([MIN_LEN + len(data), cmd]) + session + data
    return bytes([sop]) + body + bytes([checksum(body)])


def session_bytes(number: int) -> bytes:
    """A SESSION field from a number (6 bytes, big-endian), for commands and simulators."""
    if not 0 <= number < 1 << (8 * SESSION_BYTES):
        raise ValueError(f"session number out of range: {number}")
    return number.to_bytes(SESSION_BYTES, "big")


def reply_for(frame: EbikeFrame | Registration) -> bytes | None:
    """The acknowledgement a pile expects, or None.

    Charge finished (0x05), fault report (0x0d) and board warning (0x0e) are acknowledged
    with a gateway frame (SOP 0xEE) of the same CMD and SESSION whose DATA echoes the
    report's first DATA byte (the port; the warning code for a board warning). ASSUMPTION:
    the spec says these must be acknowledged but not how. Never raises for a decoded frame,
    even one whose content :func:`~device_adapters.ebike.normalize.to_events` rejects, so
    the pile stops resending it.
    """
    if isinstance(frame, Registration) or frame.sop != PILE_SOP:
        return None
    if frame.cmd not in ACKNOWLEDGED_COMMANDS:
        return None
    return encode_frame(frame.cmd, frame.session, frame.data[:1])


def _port_byte(port: int) -> bytes:
    # 0xFF means "the whole pile" in reports; a command names one port.
    if not 0 <= port < WHOLE_PILE:
        raise ValueError(f"port must be 0..254, not {port}")
    return bytes([port])


def start_charging(session: bytes, port: int, minutes: int) -> bytes:
    """0x02 start charging. DATA (ASSUMPTION): port, minutes as 2 bytes big-endian."""
    if not 0 <= minutes <= 0xFFFF:
        raise ValueError(f"minutes must be 0..65535, not {minutes}")
    return encode_frame(
        Command.START_CHARGING, session, _port_byte(port) + minutes.to_bytes(2, "big")
    )


def remote_stop(session: bytes, port: int) -> bytes:
    """0x0b remote stop. DATA (ASSUMPTION): port."""
    return encode_frame(Command.REMOTE_STOP, session, _port_byte(port))


def query_port(session: bytes, port: int) -> bytes:
    """0x06 request for one port's status. DATA (ASSUMPTION): port."""
    return encode_frame(Command.PORT_STATUS, session, _port_byte(port))
