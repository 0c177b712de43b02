"""Commands down to a Watch-protocol wristband (PROTOCOLS.md 1a, "Commands the platform
sends"): ``CR`` (report the position now), ``CALL,<phone>``, ``MONITOR,<phone>`` and
``MESSAGE,<UTF-16BE hex>``.

The frame speaks as the device does: its own maker code (``3G``, ``SG``, ``CS``, ``ZJ``)
and, if it numbers its frames (``ZJ``), an INDEX. The watch answers with a frame of the
same keyword (``[3G*...*0002*CR]``); that answer is ACCEPTED. Traccar's
``WatchProtocolEncoder`` builds the same frames (maker code from the device's frames,
``CS`` when none is known).
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
)
from device_adapters.model import DeviceCommand
from device_adapters.watch.codec import PROTOCOL, WatchFrame, encode_frame
from device_adapters.wristband_commands import (
    CALL,
    LOCATE,
    MESSAGE,
    MONITOR,
    message_hex,
    phone_param,
)

DEFAULT_MANUFACTURER: Final = "CS"
_PREFIX: Final = f"{PROTOCOL}:"


def content_for(command: DeviceCommand) -> str:
    """The frame's content for ``command``; raises CommandRefused for bad params."""
    if command.kind == LOCATE:
        return "CR"
    if command.kind == CALL:
        return f"CALL,{phone_param(command)}"
    if command.kind == MONITOR:
        return f"MONITOR,{phone_param(command)}"
    if command.kind == MESSAGE:
        return f"MESSAGE,{message_hex(command)}"
    raise CommandRefused(f"unsupported command kind {command.kind}")


def build(command: DeviceCommand, facts: StreamFacts) -> FrameCommand:
    content = content_for(command)
    keyword = content.partition(",")[0]
    last = facts.last_frame
    manufacturer = last.manufacturer if isinstance(last, WatchFrame) else DEFAULT_MANUFACTURER
    # A device that numbers its frames reads only indexed ones; any number will do.
    index = None
    if isinstance(last, WatchFrame) and last.index is not None:
        index = f"{command.command_id.int % 0xFFFF + 1:04X}"
    try:
        data = encode_frame(manufacturer, command.device_id[len(_PREFIX) :], content, index)
    except ValueError as exc:
        raise CommandRefused(f"cannot frame it: {exc}") from exc

    def is_answer(item: Any) -> bool:
        return isinstance(item, WatchFrame) and item.content_type == keyword

    return FrameCommand(data=data, is_answer=is_answer, verdict=_verdict)


def _verdict(reply: WatchFrame) -> Verdict:
    return Verdict(True, f"watch answered {reply.content_type}")


COMMANDS = StreamCommands(
    kinds=frozenset({LOCATE, CALL, MONITOR, MESSAGE}),
    device_prefix=_PREFIX,
    device_noun=f"a Watch-protocol wristband ({PROTOCOL}:...)",
    build=build,
    check_facts=StreamFacts(now=CHECK_TIME),
)
