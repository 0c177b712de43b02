"""What every adapter offers, whatever its protocol, so the edge can host it by name.

Three shapes cover the device families:

- :class:`StreamAdapter`: a byte stream (TCP, RS-485) of frames: watches, IW
  watches, e-bike piles. The edge runs one generic TCP server per adapter.
- :class:`MessageAdapter`: whole messages (an HTTP push body, an MQTT payload,
  a data-point report): door controllers, Zigbee2MQTT and Tuya locks.
- :class:`SessionAdapter`: a request/response protocol that a library drives
  (OCPP over WebSocket); the adapter offers the normalization functions and the
  edge hosts the session.

Each also says what the edge needs to host it: its ``transport`` (which server runs
it), its ``default_port`` (where that server listens unless ``HUB_EDGE_PORTS`` says
otherwise) and, if it takes commands, its ``commands`` builder
(:mod:`device_adapters.commands`).

Adapters are found by name through the ``community_hub.adapters`` entry point
group (see :mod:`device_adapters.registry` and docs/adapters.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeVar
from uuid import UUID, uuid4

from device_adapters.commands import MessageCommands, SessionCommands, StreamCommands
from device_adapters.model import DeviceEvent, DeviceFamily


@dataclass(frozen=True, slots=True)
class Rejected:
    """Bytes a stream skipped, with why; callers dead-letter them."""

    raw: bytes
    reason: str


class Frame(Protocol):
    @property
    def raw(self) -> bytes: ...


F = TypeVar("F", bound=Frame)
F_co = TypeVar("F_co", bound=Frame, covariant=True)
F_contra = TypeVar("F_contra", bound=Frame, contravariant=True)


class FrameStream(Protocol[F_co]):
    """Buffers a byte stream; never raises, never buffers beyond its bound."""

    def feed(self, data: bytes) -> Sequence[F_co | Rejected]: ...

    def flush(self) -> Sequence[F_co | Rejected]:
        """At end of stream: what can still be completed, and the rest as Rejected."""
        ...


class ToEvents(Protocol[F_contra]):
    def __call__(
        self,
        frame: F_contra,
        *,
        received_at: datetime,
        gateway_id: str,
        new_id: Callable[[], UUID] = ...,
    ) -> list[DeviceEvent]: ...


Transport = Literal["tcp", "websocket", "http_push", "mqtt"]


@dataclass(frozen=True)
class StreamAdapter(Generic[F]):
    name: str
    family: DeviceFamily
    description: str
    new_stream: Callable[[], FrameStream[F]]
    # The canonical device id a frame speaks for, e.g. "watch:8800000015".
    device_id: Callable[[F], str]
    # Raises the adapter's DecodeError (only) when the frame's content is malformed.
    to_events: ToEvents[F]
    # The bytes the device expects back for this frame, if any; sent only after
    # the frame's events are safely on their way upstream.
    reply_for: Callable[[F], bytes | None]
    transport: Transport = "tcp"
    # The TCP port its server listens on unless HUB_EDGE_PORTS names another.
    default_port: int | None = None
    commands: StreamCommands | None = None


@dataclass(frozen=True)
class MessageContext:
    received_at: datetime
    gateway_id: str
    # Where it came from: an MQTT topic, "http 10.0.0.7", ...
    source: str
    # What the transport already says about the device (topic friendly name,
    # authenticated device id), if anything.
    device_hint: str | None = None
    new_id: Callable[[], UUID] = uuid4


@dataclass(frozen=True)
class MessageAdapter:
    name: str
    family: DeviceFamily
    description: str
    # Raises the adapter's DecodeError (only) for a malformed message.
    decode: Callable[[bytes, MessageContext], list[DeviceEvent]]
    transport: Transport = "mqtt"
    # The port of the server that receives its messages (HTTP push), None when the edge
    # connects out instead (MQTT: the local broker's port, HUB_LOCAL_MQTT_PORT).
    default_port: int | None = None
    commands: MessageCommands | None = None


@dataclass(frozen=True)
class SessionAdapter:
    name: str
    family: DeviceFamily
    description: str
    # The module (or object) with the protocol's normalization functions.
    functions: Any
    transport: Transport = "websocket"
    default_port: int | None = None
    commands: SessionCommands | None = None


Adapter = StreamAdapter[Any] | MessageAdapter | SessionAdapter
