"""The source of a third-party stream adapter package, as docs/adapters.md walks through it.

The test writes it into a temporary directory next to a ``*.dist-info`` whose
``entry_points.txt`` registers it, as ``pip install`` would: nothing of the hub imports
it or names it. ``DEFAULT_PORT`` is replaced with a free port.
"""

ACME_LOCK_MODULE = r'''
"""ACME door locks: text lines over TCP, "ACME <lock id> <word>\n"."""

from dataclasses import dataclass
from uuid import uuid4

from device_adapters.base import Rejected, StreamAdapter
from device_adapters.commands import (
    CHECK_TIME,
    CommandRefused,
    FrameCommand,
    StreamCommands,
    StreamFacts,
    Verdict,
)
from device_adapters.errors import DecodeError
from device_adapters.event_factory import EventFactory
from device_adapters.model import DeviceCommand, DeviceFamily

MAX_LINE = 256
# What a lock says -> (event kind, values).
WORDS = {
    "HELLO": ("device.login", {}),
    "LOCKED": ("lock.state", {"lock_state": "locked"}),
    "UNLOCKED": ("lock.state", {"lock_state": "unlocked"}),
    "JAMMED": ("lock.jammed", {}),
}


class AcmeDecodeError(DecodeError):
    pass


@dataclass(frozen=True)
class Line:
    raw: bytes
    lock_id: str
    word: str


class LineStream:
    """Frames are lines; never raises, never keeps more than MAX_LINE bytes."""

    def __init__(self):
        self._buffer = b""

    def feed(self, data):
        self._buffer += data
        out = []
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            out.append(_parse(line + b"\n"))
        if len(self._buffer) > MAX_LINE:
            out.append(Rejected(self._buffer, "line too long"))
            self._buffer = b""
        return out

    def flush(self):
        rest, self._buffer = self._buffer, b""
        return [Rejected(rest, "incomplete line at close")] if rest else []


def _parse(raw):
    parts = raw.decode("ascii", "replace").split()
    if len(parts) != 3 or parts[0] != "ACME":
        return Rejected(raw, "not an ACME line")
    return Line(raw, parts[1], parts[2])


def device_id(line):
    return f"acme:{line.lock_id}"


def to_events(line, *, received_at, gateway_id, new_id=uuid4):
    if line.word not in WORDS:
        raise AcmeDecodeError(f"unknown word {line.word!r}", line.raw)
    kind, values = WORDS[line.word]
    events = EventFactory(
        device_id(line), DeviceFamily.LOCK, "acme_lock", received_at, gateway_id, line.raw, new_id
    )
    return [events.make(kind, values)]


def reply_for(line):
    return b"ACK\n" if line.word in WORDS else None


def build(command: DeviceCommand, facts: StreamFacts) -> FrameCommand:
    if command.kind not in ("lock.unlock", "lock.lock"):
        raise CommandRefused(f"unsupported command kind {command.kind}")
    lock_id = command.device_id.removeprefix("acme:")
    verb, want = ("UNLOCK", "UNLOCKED") if command.kind == "lock.unlock" else ("LOCK", "LOCKED")
    return FrameCommand(
        data=f"ACME {lock_id} {verb}\n".encode(),
        is_answer=lambda line: line.lock_id == lock_id and line.word in (want, "JAMMED"),
        verdict=lambda line: Verdict(line.word == want, f"lock answered {line.word}"),
    )


ADAPTER = StreamAdapter(
    name="acme_lock",
    family=DeviceFamily.LOCK,
    description="ACME door locks (text lines over TCP)",
    new_stream=LineStream,
    device_id=device_id,
    to_events=to_events,
    reply_for=reply_for,
    default_port=DEFAULT_PORT,
    commands=StreamCommands(
        kinds=frozenset({"lock.unlock", "lock.lock"}),
        device_prefix="acme:",
        device_noun="an ACME lock (acme:...)",
        build=build,
        check_facts=StreamFacts(now=CHECK_TIME),
    ),
)
'''
