"""The canonical event model every adapter produces and the hub consumes.

Edge and hub share these types: the edge serializes them onto MQTT, the hub
validates them on arrival. Keep them backwards compatible; bump
``schema_version`` for any change a stored consumer could not read.
"""

from __future__ import annotations

import base64
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
)


class DeviceFamily(StrEnum):
    DOOR_ACCESS = "door_access"
    LOCK = "lock"
    WRISTBAND = "wristband"
    CHARGER = "charger"


class Severity(StrEnum):
    """FIWARE Alert severities, lowest first."""

    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Lane(StrEnum):
    """Alarms travel on their own lane so a telemetry backlog never delays them."""

    ALARM = "alarm"
    TELEMETRY = "telemetry"


def _decode_b64(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError as exc:
            raise ValueError("raw must be standard base64") from exc
    raise ValueError("raw must be bytes or a base64 string")


# Raw device bytes: bytes in Python, one-line standard base64 in JSON.
RawBytes = Annotated[
    bytes,
    PlainValidator(_decode_b64),
    PlainSerializer(
        lambda b: base64.b64encode(b).decode("ascii"), return_type=str, when_used="json"
    ),
]

# A device id must be usable as one MQTT topic level and in a URL path segment.
DeviceId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]
GatewayId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
EventKindName = Annotated[
    str, Field(min_length=3, max_length=64, pattern=r"^[a-z0-9_]+\.[a-z0-9_]+$")
]
Scalar = float | int | str | bool | None

# Size bounds of one event (docs/trust.md). The edge turns an event over them into a
# dead letter before it is stored; the hub refuses one over them from anybody else.
EVENT_MAX_VALUES = 64
EVENT_MAX_VALUE_KEY = 64  # characters of one key of ``values``
EVENT_MAX_VALUE_TEXT = 1024  # characters of one text value
EVENT_MAX_RAW = 16 * 1024  # bytes of the device frame kept with the event
# One MQTT message from an edge: a bounded event, base64 raw and JSON included, fits.
MESSAGE_MAX_BYTES = 128 * 1024


class DeviceEvent(BaseModel):
    """One normalized thing a device said.

    ``event_id`` is assigned once, where the frame is first decoded (the edge),
    and travels with every redelivery, so the hub can drop duplicates.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    event_id: UUID
    device_id: DeviceId
    family: DeviceFamily
    protocol: str = Field(min_length=1, max_length=32)
    kind: EventKindName
    severity: Severity = Severity.INFORMATIONAL
    lane: Lane = Lane.TELEMETRY
    device_time: AwareDatetime | None = None
    received_at: AwareDatetime
    gateway_id: GatewayId
    values: dict[str, Scalar] = Field(default_factory=dict)
    raw: RawBytes = b""


def event_bound_violation(event: DeviceEvent) -> str | None:
    """Why ``event`` is over the size bounds, or None if it is within them."""
    if len(event.values) > EVENT_MAX_VALUES:
        return f"values has {len(event.values)} entries; at most {EVENT_MAX_VALUES}"
    for key, value in event.values.items():
        if len(key) > EVENT_MAX_VALUE_KEY:
            return f"values key of {len(key)} characters; at most {EVENT_MAX_VALUE_KEY}"
        if isinstance(value, str) and len(value) > EVENT_MAX_VALUE_TEXT:
            return f"values.{key} has {len(value)} characters; at most {EVENT_MAX_VALUE_TEXT}"
    if len(event.raw) > EVENT_MAX_RAW:
        return f"raw has {len(event.raw)} bytes; at most {EVENT_MAX_RAW}"
    return None


class DeadLetter(BaseModel):
    """Input that could not be turned into events: kept with its raw bytes and the reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dead_letter_id: UUID
    gateway_id: str = Field(min_length=1, max_length=64)
    source: str = Field(max_length=256)
    protocol: str = Field(max_length=32)
    device_id: str | None = Field(default=None, max_length=128)
    received_at: datetime
    reason: str = Field(max_length=1000)
    raw: RawBytes = b""


class CommandStatus(StrEnum):
    PENDING = "pending"  # stored by the hub, not yet on the broker
    SENT = "sent"  # on the broker, on its way to the edge
    DELIVERED = "delivered"  # the edge handed it to the device, awaiting its answer
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"  # the device did not answer in time
    EXPIRED = "expired"  # its time to live ran out before it reached the device
    FAILED = "failed"  # the edge could not run it (unknown device, unsupported command)


FINAL_COMMAND_STATUSES = frozenset(
    {
        CommandStatus.ACCEPTED,
        CommandStatus.REJECTED,
        CommandStatus.TIMED_OUT,
        CommandStatus.EXPIRED,
        CommandStatus.FAILED,
    }
)

# What the hub can ask a device to do. Parameters per kind are in docs/mqtt-topics.md.
CommandKind = Literal[
    "lock.unlock",  # params: {}
    "lock.lock",  # params: {}
    "charger.remote_start",  # params: {"port": int, "id_tag": str}
    "charger.remote_stop",  # params: {"port": int} or {"transaction_id": int}
    "charger.reserve",  # params: {"port": int, "id_tag": str, "reservation_id": int}
    "charger.cancel_reservation",  # params: {"reservation_id": int}
    "charger.unlock_connector",  # params: {"port": int}
    "ebike.start",  # params: {"port": int, "minutes": int}
    "ebike.stop",  # params: {"port": int}
    "wristband.locate",  # params: {}
    "wristband.call",  # params: {"phone": str}
    "wristband.monitor",  # params: {"phone": str} (Watch protocol only)
    "wristband.message",  # params: {"text": str}
]


class DeviceCommand(BaseModel):
    """A command from the hub to one device, through the gateway the device is on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command_id: UUID
    device_id: DeviceId
    gateway_id: GatewayId
    kind: CommandKind
    params: dict[str, Scalar] = Field(default_factory=dict)
    issued_at: AwareDatetime
    expires_at: AwareDatetime


class CommandResult(BaseModel):
    """What became of a command, reported by the edge."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command_id: UUID
    device_id: DeviceId
    status: CommandStatus
    detail: str = Field(default="", max_length=500)
    at: AwareDatetime


class OutboxReport(BaseModel):
    """An edge gateway's outbox as it stands: what waits, and how near its bounds it is.

    ``filling`` is the edge's own verdict against its thresholds (``EDGE_OUTBOX_WARN_RATIO``
    of the bound, ``EDGE_DISK_FREE_WARN_BYTES`` left on the disk): over either, old
    telemetry is about to be thinned or the disk to fill."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gateway_id: GatewayId
    at: AwareDatetime
    items: int = Field(ge=0)
    alarms: int = Field(ge=0)
    bytes: int = Field(ge=0)
    max_bytes: int = Field(ge=0)
    disk_free_bytes: int | None = Field(default=None, ge=0)
    oldest_age_s: float | None = Field(default=None, ge=0)
    filling: bool


class DeviceAvailability(BaseModel):
    """Whether the edge can reach a device, and why that changed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    device_id: DeviceId
    gateway_id: GatewayId
    online: bool
    # connected | disconnected | heartbeat_timeout | bridge_offline | bridge_online
    reason: str = Field(max_length=64)
    at: AwareDatetime
