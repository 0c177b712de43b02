"""Wristband commands, sans-I/O: the frames of both watch protocols and their answers."""

from __future__ import annotations

import pytest

from device_adapters import iw, watch
from device_adapters.commands import CommandBuilder, CommandRefused, StreamCommands, StreamFacts
from device_adapters.wristband_commands import MAX_MESSAGE_UNITS
from tests.device_adapters.test_command_builders import NOW, command

FACTS = StreamFacts(now=NOW)
HEX = "5FD7613F80055DF251FA53D1"  # 志愿者已出发, UTF-16BE (PROTOCOLS.md 1a)


def builder(adapter: object) -> StreamCommands:
    commands = getattr(adapter, "commands", None)
    assert isinstance(commands, CommandBuilder)
    stream: StreamCommands = commands
    return stream


def test_watch_frames_follow_the_devices_maker_code_and_index() -> None:
    b = builder(watch.ADAPTER)
    locate = command("wristband.locate", "watch:8800000015")
    # No frame seen yet: the maker code Traccar uses by default.
    assert b.build(locate, FACTS).data == b"[CS*8800000015*0002*CR]"
    lk = watch.decode_frame(b"[3G*8800000015*0002*LK]")
    seen = StreamFacts(now=NOW, last_frame=lk)
    assert b.build(locate, seen).data == b"[3G*8800000015*0002*CR]"
    zj = watch.decode_frame(b"[ZJ*8800000015*0007*0002*LK]")
    data = b.build(locate, StreamFacts(now=NOW, last_frame=zj)).data
    frame = watch.decode_frame(data)
    assert (frame.manufacturer, frame.content) == ("ZJ", b"CR") and frame.index is not None


def test_watch_message_is_utf16be_hex_and_only_its_keyword_answers() -> None:
    b = builder(watch.ADAPTER)
    lk = watch.decode_frame(b"[SG*8800000015*0002*LK]")
    message = command("wristband.message", "watch:8800000015", {"text": "志愿者已出发"})
    wire = b.build(message, StreamFacts(now=NOW, last_frame=lk))
    assert wire.data == b"[SG*8800000015*0020*MESSAGE," + HEX.encode() + b"]"
    assert wire.is_answer(watch.decode_frame(b"[SG*8800000015*0007*MESSAGE]"))
    assert not wire.is_answer(lk)
    call = command("wristband.monitor", "watch:8800000015", {"phone": "13800138000"})
    assert b.build(call, FACTS).data == b"[CS*8800000015*0013*MONITOR,13800138000]"


def test_iw_frames_carry_imei_journal_and_are_answered_by_the_same_journal() -> None:
    b = builder(iw.ADAPTER)
    message = command("wristband.message", "iw:353456789012345", {"text": "志愿者已出发"})
    journal = f"{message.command_id.int % 1_000_000:06d}"
    wire = b.build(message, FACTS)
    assert wire.data == f"IWBP40,353456789012345,{journal},{HEX}#".encode()
    mine = iw.decode_frame(f"IWAP40,{journal}#".encode(), "353456789012345")
    other = iw.decode_frame(b"IWAP40,999999#", "353456789012345")
    assert wire.is_answer(mine) and not wire.is_answer(other)
    locate = b.build(command("wristband.locate", "iw:353456789012345"), FACTS)
    assert locate.data.startswith(b"IWBP16,353456789012345,")
    # The answer is neither an event nor something to reply to.
    assert iw.to_events(mine, received_at=NOW, gateway_id="edge-1") == []
    assert iw.reply_for(mine, NOW) is None


@pytest.mark.parametrize("adapter", [watch.ADAPTER, iw.ADAPTER])
@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        ("wristband.message", {"text": "志" * (MAX_MESSAGE_UNITS + 1)}, "params.text"),
        ("wristband.message", {"text": "  "}, "params.text"),
        ("wristband.message", {}, "params.text"),
        ("wristband.call", {"phone": "138 0013 8000"}, "params.phone"),
        ("wristband.call", {"phone": "12"}, "params.phone"),
        ("wristband.call", {"phone": "110,CR"}, "params.phone"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(
    adapter: object, kind: str, params: dict[str, str], field: str
) -> None:
    b = builder(adapter)
    device = f"{b.device_prefix}353456789012345"
    with pytest.raises(CommandRefused, match=f"^{field}"):
        b.check(command(kind, device, params))  # type: ignore[arg-type]


def test_a_message_of_the_limit_fits() -> None:
    text = "志" * MAX_MESSAGE_UNITS
    for adapter in (watch.ADAPTER, iw.ADAPTER):
        b = builder(adapter)
        b.check(command("wristband.message", f"{b.device_prefix}353456789012345", {"text": text}))


def test_iw_serves_no_monitor() -> None:
    assert not builder(iw.ADAPTER).serves_kind("wristband.monitor")
    assert builder(watch.ADAPTER).serves_kind("wristband.monitor")
