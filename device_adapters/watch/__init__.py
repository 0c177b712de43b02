"""Sans-I/O codec for the wristband "Watch" protocol (PROTOCOLS.md 1a).

``WatchStream.feed`` turns TCP bytes into frames (or rejected bytes), ``reply_for`` gives the
answer a frame expects, and ``to_events`` normalizes a frame into DeviceEvents.
"""

from device_adapters.watch.codec import (
    MAX_CONTENT_BYTES,
    MAX_FRAME_BYTES,
    MAX_HEADER_BYTES,
    PROTOCOL,
    Rejected,
    WatchDecodeError,
    WatchFrame,
    decode_frame,
    encode_frame,
    reply_for,
)
from device_adapters.watch.normalize import StatusFlags, to_events
from device_adapters.watch.stream import MIN_BUFFER_BYTES, WatchStream

__all__ = [
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
    "encode_frame",
    "reply_for",
    "to_events",
]
