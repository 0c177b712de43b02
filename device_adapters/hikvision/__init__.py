"""Sans-I/O codec for Hikvision-style access controllers pushing JSON over HTTP (PROTOCOLS.md 3).

``decode(payload, ctx, vendor="hikvision")`` turns one pushed ``AccessControllerEvent``
body into DeviceEvents; the (major, minor) code tables are data, per vendor, in
:mod:`device_adapters.hikvision.event_codes`. The HTTP server that receives the pushes is
edge/http_push.py. The golden frame is the *built* example of PROTOCOLS.md 3.
"""

from collections.abc import Callable

from device_adapters.base import MessageAdapter, MessageContext
from device_adapters.hikvision.codec import (
    ACS_EVENT_TYPE,
    DEVICE_ID_PREFIX,
    HEARTBEAT_EVENT_TYPES,
    MAX_PAYLOAD_BYTES,
    PROTOCOL,
    HikvisionDecodeError,
    decode,
    device_id_for,
)
from device_adapters.hikvision.event_codes import (
    DEFAULT_VENDOR,
    VENDOR_CODE_VALUES,
    VENDOR_TABLES,
    with_overrides,
)
from device_adapters.model import DeviceEvent, DeviceFamily


def decoder_for(vendor: str) -> Callable[[bytes, MessageContext], list[DeviceEvent]]:
    """``decode`` bound to one vendor's table; an unknown vendor fails here, at setup."""
    if vendor not in VENDOR_TABLES:
        known = ", ".join(sorted(VENDOR_TABLES))
        raise LookupError(f"no event code table for vendor {vendor!r}; known: {known}")

    def decode_vendor(payload: bytes, ctx: MessageContext) -> list[DeviceEvent]:
        return decode(payload, ctx, vendor)

    return decode_vendor


def _decode_default(payload: bytes, ctx: MessageContext) -> list[DeviceEvent]:
    return decode(payload, ctx)


ADAPTER = MessageAdapter(
    name="hikvision_acs",
    family=DeviceFamily.DOOR_ACCESS,
    description="Hikvision-style access controllers: AccessControllerEvent JSON pushed over HTTP",
    decode=_decode_default,
    transport="http_push",
    default_port=8090,
)

__all__ = [
    "ACS_EVENT_TYPE",
    "ADAPTER",
    "DEFAULT_VENDOR",
    "DEVICE_ID_PREFIX",
    "HEARTBEAT_EVENT_TYPES",
    "MAX_PAYLOAD_BYTES",
    "PROTOCOL",
    "VENDOR_CODE_VALUES",
    "VENDOR_TABLES",
    "HikvisionDecodeError",
    "decode",
    "decoder_for",
    "device_id_for",
    "with_overrides",
]
