"""Sans-I/O codec for residential e-bike charging piles (PROTOCOLS.md 2b).

``EbikeStream.feed`` turns the bytes of one pile connection into a :class:`Registration`
and :class:`EbikeFrame` items (or :class:`Rejected` bytes), ``to_events`` normalizes them
into DeviceEvents, ``reply_for`` gives the acknowledgement a report expects, and
``start_charging`` / ``remote_stop`` / ``query_port`` build the commands down.

Frame: ``SOP LEN CMD SESSION(6) DATA SUM`` (SOP 0x66 pile→gateway, 0xEE gateway→pile;
LEN = 1 + 6 + len(DATA) + 1; SUM = XOR of LEN .. last DATA byte), 10 to 257 bytes.

Commands, pile→gateway (DATA):

- 0x01 all-port status: port count, then one byte a port (0x01 idle, 0x02 charging).
- 0x02 answer to start charging: port, result (0x00 started). *Assumed*.
- 0x05 charge finished: port, reason. Acknowledged.
- 0x06 one port's status: port, remaining minutes (2 bytes big-endian), power in 0.1 W
  (2 bytes big-endian). The widths are *assumed*.
- 0x0b answer to remote stop: port, ... (no event; the 0x05 that follows reports the stop).
- 0x0d fault report: port (0xFF = whole pile), fault code. Acknowledged.
- 0x0e board warning report: warning code (1 over-temperature, 2 cabinet door opened,
  3 power outage, 4 smoke). Acknowledged. **ASSUMPTION: the public spec gives the warning
  values but no command byte; 0x0e is our guess, to verify against a real pile.**

Gateway→pile (DATA, layouts *assumed*): 0x02 start charging: port, minutes (2 bytes
big-endian); 0x0b remote stop: port; 0x06 port query: port; acknowledgements of 0x05,
0x0d, 0x0e: same CMD and SESSION, DATA = the report's first DATA byte (port, or warning
code).

Device identity (ASSUMPTION). The public protocol has no identity frame. These piles sit
behind RS-485/4G DTUs which, as USR-style DTUs do, send a configurable "registration
packet" once when they connect. The stream therefore expects, before the first frame, the
pile's id in ASCII, ``[A-Za-z0-9_-]{4,32}``, ending with an optional CRLF or where the
first frame begins (how that is decided, given that SOP 0x66 is the letter 'f': see
:mod:`device_adapters.ebike.stream`). Configure the DTU's registration packet as the
pile id followed by CRLF: without a terminator the registration is only recognized when
the first frame (or the end of the connection) arrives. The registration yields a
:class:`Registration` (one ``device.login`` event) and its id is stamped on every later
frame; the device id is ``ebike:<pile id>``. Frames before a registration are Rejected
("no DTU registration packet on this connection yet"). DTUs set to prefix *every* packet
with the registration are not supported (the prefixes would be rejected as garbage).

Other assumptions: ports are numbered from 1 (the n-th byte of an all-port status is port
n); a 0x06 port is "charging" when it draws power or has minutes left, else "available";
DATA longer than a layout needs is accepted and the rest ignored (except 0x01, whose DATA
must match its port count).
"""

from device_adapters.base import Rejected, StreamAdapter
from device_adapters.ebike.codec import (
    ACKNOWLEDGED_COMMANDS,
    GATEWAY_SOP,
    MAX_DATA_BYTES,
    MAX_FRAME_BYTES,
    MAX_PILE_ID_LEN,
    MIN_FRAME_BYTES,
    MIN_LEN,
    MIN_PILE_ID_LEN,
    PILE_ID_RE,
    PILE_SOP,
    PROTOCOL,
    SESSION_BYTES,
    WHOLE_PILE,
    BoardWarning,
    Command,
    EbikeDecodeError,
    EbikeFrame,
    FaultCode,
    PortState,
    Registration,
    StopReason,
    checksum,
    decode_frame,
    encode_frame,
    query_port,
    remote_stop,
    reply_for,
    session_bytes,
    start_charging,
)
from device_adapters.ebike.commands import COMMANDS
from device_adapters.ebike.normalize import code_name, device_id_of, to_events
from device_adapters.ebike.stream import (
    INCOMPLETE_AT_CLOSE,
    MAX_BUFFER_BYTES,
    NO_REGISTRATION,
    NOT_A_REGISTRATION,
    OUTSIDE_FRAME,
    EbikeStream,
)
from device_adapters.model import DeviceFamily

ADAPTER: StreamAdapter[EbikeFrame | Registration] = StreamAdapter(
    name=PROTOCOL,
    family=DeviceFamily.CHARGER,
    description="Residential e-bike charging piles (binary frames behind an RS-485/4G DTU)",
    new_stream=EbikeStream,
    device_id=device_id_of,
    to_events=to_events,
    reply_for=reply_for,
    default_port=5090,
    commands=COMMANDS,
)

__all__ = [
    "ACKNOWLEDGED_COMMANDS",
    "ADAPTER",
    "GATEWAY_SOP",
    "INCOMPLETE_AT_CLOSE",
    "MAX_BUFFER_BYTES",
    "MAX_DATA_BYTES",
    "MAX_FRAME_BYTES",
    "MAX_PILE_ID_LEN",
    "MIN_FRAME_BYTES",
    "MIN_LEN",
    "MIN_PILE_ID_LEN",
    "NOT_A_REGISTRATION",
    "NO_REGISTRATION",
    "OUTSIDE_FRAME",
    "PILE_ID_RE",
    "PILE_SOP",
    "PROTOCOL",
    "SESSION_BYTES",
    "WHOLE_PILE",
    "BoardWarning",
    "Command",
    "EbikeDecodeError",
    "EbikeFrame",
    "EbikeStream",
    "FaultCode",
    "PortState",
    "Registration",
    "Rejected",
    "StopReason",
    "checksum",
    "code_name",
    "decode_frame",
    "device_id_of",
    "encode_frame",
    "query_port",
    "remote_stop",
    "reply_for",
    "session_bytes",
    "start_charging",
    "to_events",
]
