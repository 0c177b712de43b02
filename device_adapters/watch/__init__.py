"""Sans-I/O codec for the wristband "Watch" protocol (PROTOCOLS.md 1a).

``WatchStream.feed`` turns TCP bytes into frames (or rejected bytes), ``reply_for`` gives the
answer a frame expects, and ``to_events`` normalizes a frame into DeviceEvents.
"""

from device_adapters.base import Rejected, StreamAdapter
from device_adapters.model import DeviceFamily
from device_adapters.watch.codec import (
    MAX_CONTENT_BYTES,
    MAX_FRAME_BYTES,
    MAX_HEADER_BYTES,
    PROTOCOL,
    WatchDecodeError,
    WatchFrame,
    decode_frame,
    encode_frame,
    reply_for,
)
from device_adapters.watch.commands import COMMANDS
from device_adapters.watch.normalize import StatusFlags, to_events
from device_adapters.watch.stream import MIN_BUFFER_BYTES, WatchStream


def device_id_of(frame: WatchFrame) -> str:
    return f"{PROTOCOL}:{frame.device_id}"


ADAPTER: StreamAdapter[WatchFrame] = StreamAdapter(
    name=PROTOCOL,
    family=DeviceFamily.WRISTBAND,
    description='"Watch" protocol wristbands (3G/SG/CS/ZJ text frames over TCP)',
    new_stream=WatchStream,
    device_id=device_id_of,
    to_events=to_events,
    reply_for=reply_for,
    default_port=5088,
    commands=COMMANDS,
)

__all__ = [
    "ADAPTER",
    "MAX_CONTENT_BYTES",
    "MAX_FRAME_BYTES",
    "MAX_HEADER_BYTES",
    "MIN_BUFFER_BYTES",
    "PROTOCOL",
    "Rejected",
    "StatusFlags",
    "WatchDecodeError",
    "WatchFrame",
    "WatchStream",
    "decode_frame",
    "device_id_of",
    "encode_frame",
    "reply_for",
    "to_events",
]
