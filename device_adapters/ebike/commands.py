"""Commands down to an e-bike pile: start charging (0x02) and remote stop (0x0b).

The frame's SESSION is derived from the command id, and the pile's answer carries the
same CMD and SESSION (DATA: port, result): result 0x00, or no result byte, is accepted.
"""

from __future__ import annotations

from typing import Any, Final

from device_adapters.commands import (
    CHECK_TIME,
    CommandRefused,
    FrameCommand,
    StreamCommands,
    StreamFacts,
    Verdict,
    int_param,
)
from device_adapters.ebike.codec import (
    PILE_SOP,
    PROTOCOL,
    SESSION_BYTES,
    Command,
    EbikeFrame,
    remote_stop,
    session_bytes,
    start_charging,
)
from device_adapters.model import DeviceCommand

_SESSION_SPACE: Final = (1 << (8 * SESSION_BYTES)) - 1


def session_for(command: DeviceCommand) -> bytes:
    """The SESSION of the command's frame, never zero, the same for the same command."""
    return session_bytes(command.command_id.int % _SESSION_SPACE + 1)


def build(command: DeviceCommand, facts: StreamFacts) -> FrameCommand:
    session = session_for(command)
    try:
        if command.kind == "ebike.start":
            cmd = Command.START_CHARGING
            frame = start_charging(
                session, int_param(command, "port"), int_param(command, "minutes")
            )
        elif command.kind == "ebike.stop":
            cmd = Command.REMOTE_STOP
            frame = remote_stop(session, int_param(command, "port"))
        else:
            raise CommandRefused(f"unsupported command kind {command.kind}")
    except ValueError as exc:
        if isinstance(exc, CommandRefused):
            raise
        raise CommandRefused(f"bad params: {exc}") from exc

    def is_answer(item: Any) -> bool:
        return (
            isinstance(item, EbikeFrame)
            and item.sop == PILE_SOP
            and item.cmd == cmd
            and item.session == session
        )

    return FrameCommand(data=frame, is_answer=is_answer, verdict=_verdict)


def _verdict(reply: EbikeFrame) -> Verdict:
    if len(reply.data) < 2 or reply.data[1] == 0x00:
        return Verdict(True, f"pile answered port {reply.data[:1].hex()} ok")
    return Verdict(False, f"pile answered result 0x{reply.data[1]:02X}")


COMMANDS = StreamCommands(
    kinds=frozenset({"ebike.start", "ebike.stop"}),
    device_prefix=f"{PROTOCOL}:",
    device_noun=f"an e-bike pile ({PROTOCOL}:...)",
    build=build,
    check_facts=StreamFacts(now=CHECK_TIME),
)
