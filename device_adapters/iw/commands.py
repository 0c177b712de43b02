"""Commands down to an IW wristband: ``IWBP<type>,<IMEI>,<journal>[,...]#``.

- ``IWBP16`` locate now (立即定位), answered ``IWAP16,<journal>#`` and then a location;
- ``IWBP32,<...>,<phone>`` the watch places a call (拨打电话), answered ``IWAP32``;
- ``IWBP40,<...>,<UTF-16BE hex>`` a text shown on the screen, answered ``IWAP40``.

The journal number is 6 digits (``080835`` in vendors' examples), derived from the command
id; the watch's answer carries it back, so an answer is matched to its command. The IW
documents published by vendors list no silent "monitor" call: ``wristband.monitor`` is
not served here. Sources: vendor command tables quoted in public IW servers and
simulators (BP16, BP32, BP40 and their AP answers); check them against the watch model.
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
from device_adapters.iw.codec import PROTOCOL, IwFrame
from device_adapters.model import DeviceCommand
from device_adapters.wristband_commands import CALL, LOCATE, MESSAGE, message_hex, phone_param

_PREFIX: Final = f"{PROTOCOL}:"


def journal_for(command: DeviceCommand) -> str:
    return f"{command.command_id.int % 1_000_000:06d}"


def build(command: DeviceCommand, facts: StreamFacts) -> FrameCommand:
    imei = command.device_id[len(_PREFIX) :]
    journal = journal_for(command)
    if command.kind == LOCATE:
        type_, extra = "16", ""
    elif command.kind == CALL:
        type_, extra = "32", f",{phone_param(command)}"
    elif command.kind == MESSAGE:
        type_, extra = "40", f",{message_hex(command)}"
    else:
        raise CommandRefused(f"unsupported command kind {command.kind}")
    if not (imei.isascii() and imei.isdigit() and len(imei) == 15):
        raise CommandRefused(f"not an IW watch's 15-digit IMEI: {imei[:32]!r}")
    data = f"IWBP{type_},{imei},{journal}{extra}#".encode("ascii")

    def is_answer(item: Any) -> bool:
        if not isinstance(item, IwFrame) or item.frame_type != type_:
            return False
        fields = item.body.lstrip(",").split(",")
        return fields[0] in (journal, "")  # some firmware answers without the journal

    return FrameCommand(data=data, is_answer=is_answer, verdict=_verdict)


def _verdict(reply: IwFrame) -> Verdict:
    return Verdict(True, f"watch answered IWAP{reply.frame_type}")


COMMANDS = StreamCommands(
    kinds=frozenset({LOCATE, CALL, MESSAGE}),
    device_prefix=_PREFIX,
    device_noun=f"an IW wristband ({PROTOCOL}:...)",
    build=build,
    check_facts=StreamFacts(now=CHECK_TIME),
)
