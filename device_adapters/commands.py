"""How an adapter turns the hub's commands into what goes to the device, sans-I/O.

An adapter that takes commands carries a :class:`CommandBuilder`: which command kinds
and device ids it serves, and ``build``, which turns a
:class:`~device_adapters.model.DeviceCommand` into the wire form of its transport:

- a stream adapter (TCP) builds a :class:`FrameCommand`: the bytes to write to the
  device's connection, which of its frames answers them and what that answer means;
- a session adapter (OCPP) builds a :class:`SessionCall`: the library's call payload
  and the answer status that means "accepted";
- a message adapter (MQTT) builds a :class:`MessageCommand`: a topic and payload to
  publish, and which of the device's later reports answers it.

``build`` reads no clock and opens nothing: what only the edge knows (the time, an OCPP
transaction, a device's name on the bus) comes in the facts. It raises
:class:`CommandRefused` for a command it cannot send as given; the edge reports that
command FAILED with the exception's text. The edge checks every command when it arrives
(``check``, with stand-in facts) and builds it for real when the device is reachable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from device_adapters.model import DeviceCommand, DeviceEvent


class CommandRefused(ValueError):
    """The command cannot be sent as given: a kind not served, or bad parameters."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the device's answer says: accepted or not, and why in words."""

    accepted: bool
    detail: str


# Stand-in time for checking a command on arrival: only the parameters are checked then.
CHECK_TIME = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class StreamFacts:
    now: datetime
    # The device's latest frame on its current connection (the adapter's frame type), or
    # None: some protocols answer in the form the device speaks (a Watch's maker code).
    last_frame: Any = None


@dataclass(frozen=True)
class SessionFacts:
    now: datetime
    # The transaction the session knows on a connector, None if none is known.
    transaction_on_port: Callable[[int], int | None]


@dataclass(frozen=True)
class MessageFacts:
    now: datetime
    # Where the device's topics start on the local bus, and its name there.
    base_topic: str
    device_name: str


@dataclass(frozen=True)
class FrameCommand:
    """Bytes for the device's connection, and how to recognize and read its answer."""

    data: bytes
    # Given each frame the device sends next (the adapter's frame type).
    is_answer: Callable[[Any], bool]
    verdict: Callable[[Any], Verdict]


@dataclass(frozen=True)
class SessionCall:
    """A call for the session's library to send, and the status that means accepted."""

    payload: Any
    accepted_status: str


@dataclass(frozen=True)
class MessageCommand:
    """A message to publish, and which of the device's fresh reports answers it."""

    topic: str
    payload: bytes
    is_answer: Callable[[DeviceEvent], bool]
    verdict: Callable[[DeviceEvent], Verdict]
    # What the edge waits for, for the timeout's words ("a locked report").
    awaiting: str


Facts = TypeVar("Facts")
Wire = TypeVar("Wire")


@dataclass(frozen=True, kw_only=True)
class CommandBuilder(Generic[Facts, Wire]):
    # The command kinds served ("ebike.start"), and the device ids: those with this prefix.
    kinds: frozenset[str]
    device_prefix: str
    # The devices in words, for refusals: "an e-bike pile (ebike:...)".
    device_noun: str
    # Raises CommandRefused for a kind not served or parameters it cannot send.
    build: Callable[[DeviceCommand, Facts], Wire]
    # Stand-in facts for check(): a command is checked when it arrives, and built for
    # real later, with what the device's server knows then.
    check_facts: Facts

    def serves_kind(self, kind: str) -> bool:
        return kind in self.kinds

    def serves_device(self, device_id: str) -> bool:
        return device_id.startswith(self.device_prefix) and device_id != self.device_prefix

    def check(self, command: DeviceCommand) -> None:
        """Raise CommandRefused if ``command`` could never be sent as given."""
        self.build(command, self.check_facts)


StreamCommands = CommandBuilder[StreamFacts, FrameCommand]
SessionCommands = CommandBuilder[SessionFacts, SessionCall]
MessageCommands = CommandBuilder[MessageFacts, MessageCommand]


def int_param(command: DeviceCommand, name: str, *, default: int | None = None) -> int:
    value = command.params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CommandRefused(f"params.{name} must be an integer")
    return value


def text_param(command: DeviceCommand, name: str) -> str:
    value = command.params.get(name)
    if not isinstance(value, str):
        raise CommandRefused(f"params.{name} must be a string")
    return value
