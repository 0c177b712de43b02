"""E-bike pile codec (PROTOCOLS.md 2b): the verified frame, built frames for every command and
code, acknowledgements, commands down, the DTU registration, streams, and the simulated pile."""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import reduce
from operator import xor

import pytest

import device_adapters.ebike as ebike_pkg
from community_hub_tools.sim.ebike_pile import RESULT_OK, RESULT_REFUSED, SimulatedEbikePile
from device_adapters.ebike import (
    ADAPTER,
    GATEWAY_SOP,
    INCOMPLETE_AT_CLOSE,
    MAX_BUFFER_BYTES,
    MAX_DATA_BYTES,
    MAX_FRAME_BYTES,
    NO_REGISTRATION,
    NOT_A_REGISTRATION,
    OUTSIDE_FRAME,
    PILE_SOP,
    PROTOCOL,
    BoardWarning,
    Command,
    EbikeDecodeError,
    EbikeFrame,
    EbikeStream,
    FaultCode,
    Registration,
    Rejected,
    StopReason,
    decode_frame,
    encode_frame,
    query_port,
    remote_stop,
    reply_for,
    session_bytes,
    start_charging,
    to_events,
)
from device_adapters.kinds import KINDS
from device_adapters.model import DeviceEvent, DeviceFamily, Lane, Severity

# Built, checksum verified (PROTOCOLS.md 2b): fault report, port 3, port output fault.
GOLDEN = bytes.fromhex("66 0A 0D 00 00 00 00 00 01 03 01 04")
GOLDEN_ACK = bytes.fromhex("EE 09 0D 00 00 00 00 00 01 03 06")  # SUM worked out by hand

PILE = "pile-0001"
SESSION = bytes.fromhex("000000000001")
RECEIVED = datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)
GATEWAY = "gw-test"

Item = EbikeFrame | Registration | Rejected


def ids() -> Callable[[], uuid.UUID]:
    counter: Iterator[int] = itertools.count(1)
    return lambda: uuid.UUID(int=next(counter))


def pile_frame(cmd: int, data: bytes, session: bytes = SESSION) -> bytes:
    return encode_frame(cmd, session, data, sop=PILE_SOP)


def events(raw: bytes, pile_id: str = PILE) -> list[DeviceEvent]:
    return to_events(
        decode_frame(raw, pile_id), received_at=RECEIVED, gateway_id=GATEWAY, new_id=ids()
    )


def kinds(evs: Sequence[DeviceEvent]) -> list[str]:
    return [e.kind for e in evs]


def xor_sum(body: bytes) -> int:
    return reduce(xor, body, 0)


def feed_all(stream: EbikeStream, *chunks: bytes) -> list[Item]:
    out: list[Item] = []
    for chunk in chunks:
        out += stream.feed(chunk)
    return out


def frames_of(items: Sequence[Item]) -> list[EbikeFrame]:
    return [i for i in items if isinstance(i, EbikeFrame)]


def registered(*frames: bytes) -> bytes:
    return PILE.encode() + b"\r\n" + b"".join(frames)


ALL_STATUS = pile_frame(Command.ALL_PORT_STATUS, bytes([4, 0x01, 0x02, 0x02, 0x01]))
PORT_STATUS = pile_frame(Command.PORT_STATUS, bytes([2, 0x00, 0x5A, 0x04, 0xD2]))
FINISHED = pile_frame(Command.CHARGE_FINISHED, bytes([5, StopReason.BATTERY_FULL]))
WARNING = pile_frame(Command.BOARD_WARNING, bytes([BoardWarning.SMOKE]))
SEED_FRAMES = [GOLDEN, ALL_STATUS, PORT_STATUS, FINISHED, WARNING]


# -- the verified frame ---------------------------------------------------------------


def test_golden_frame_fields_and_checksum() -> None:
    frame = decode_frame(GOLDEN, PILE)
    assert (frame.sop, frame.cmd) == (PILE_SOP, Command.FAULT_REPORT)
    assert frame.session == SESSION
    assert frame.data == b"\x03\x01"
    assert frame.raw == GOLDEN and frame.pile_id == PILE
    assert GOLDEN[1] == 1 + 6 + len(frame.data) + 1 == len(GOLDEN) - 2
    assert GOLDEN[-1] == xor_sum(GOLDEN[1:-1]) == 0x04


def test_golden_frame_is_what_encode_frame_builds() -> None:
    assert encode_frame(0x0D, SESSION, b"\x03\x01", sop=PILE_SOP) == GOLDEN


def test_golden_frame_is_a_port_output_fault_alarm() -> None:
    [event] = events(GOLDEN)
    assert event.kind == "charger.fault"
    assert (event.severity, event.lane) == (Severity.HIGH, Lane.ALARM)
    assert event.device_id == f"ebike:{PILE}"
    assert (event.family, event.protocol) == (DeviceFamily.CHARGER, PROTOCOL)
    assert event.values == {
        "port": 3,
        "whole_pile": False,
        "fault": "port_output_fault",
        "fault_code": 1,
    }
    assert event.raw == GOLDEN
    assert event.received_at == RECEIVED and event.gateway_id == GATEWAY
    assert event.device_time is None


def test_golden_frame_acknowledgement() -> None:
    ack = reply_for(decode_frame(GOLDEN, PILE))
    assert ack == GOLDEN_ACK
    back = decode_frame(GOLDEN_ACK)
    assert (back.sop, back.cmd, back.session, back.data) == (GATEWAY_SOP, 0x0D, SESSION, b"\x03")


def test_golden_frame_through_the_stream() -> None:
    out = EbikeStream().feed(registered(GOLDEN))
    assert out == [
        Registration(PILE, PILE.encode() + b"\r\n"),
        decode_frame(GOLDEN, PILE),
    ]


# -- every command and code -----------------------------------------------------------


def test_all_port_status_gives_one_event_per_port() -> None:
    raw = pile_frame(Command.ALL_PORT_STATUS, bytes([5, 0x01, 0x02, 0x02, 0x01, 0x07]))
    evs = events(raw)
    assert kinds(evs) == ["charger.port_status"] * 5
    assert [
        (e.values["port"], e.values["status"], e.values["availability"], e.values["status_code"])
        for e in evs
    ] == [
        (1, "idle", "available", 1),
        (2, "charging", "charging", 2),
        (3, "charging", "charging", 2),
        (4, "idle", "available", 1),
        (5, "unknown", "unknown", 7),
    ]
    assert len({e.event_id for e in evs}) == 5
    assert all(e.raw == raw and e.lane is Lane.TELEMETRY for e in evs)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "needs 1"),
        (bytes([0]), "port count is 0"),
        (bytes([3, 1, 1]), "port count 3 but 2 port bytes"),
        (bytes([1, 1, 2]), "port count 1 but 2 port bytes"),
    ],
)
def test_all_port_status_must_match_its_port_count(data: bytes, reason: str) -> None:
    raw = pile_frame(Command.ALL_PORT_STATUS, data)
    with pytest.raises(EbikeDecodeError, match=reason) as info:
        events(raw)
    assert info.value.raw == raw


@pytest.mark.parametrize(
    ("remaining", "power_tenths", "status", "availability"),
    [
        (90, 1234, "charging", "charging"),
        (0, 15, "charging", "charging"),  # drawing power with no time left: still charging
        (300, 0, "charging", "charging"),  # time left, power not flowing yet
        (0, 0, "idle", "available"),
        (0xFFFF, 0xFFFF, "charging", "charging"),
    ],
)
def test_port_status(remaining: int, power_tenths: int, status: str, availability: str) -> None:
    data = bytes([7]) + remaining.to_bytes(2, "big") + power_tenths.to_bytes(2, "big")
    [event] = events(pile_frame(Command.PORT_STATUS, data))
    assert event.kind == "charger.port_status"
    assert event.values == {
        "port": 7,
        "status": status,
        "availability": availability,
        "remaining_min": remaining,
        "power_w": power_tenths / 10,
    }
    assert isinstance(event.values["power_w"], float)


def test_port_status_fields_are_big_endian() -> None:
    [event] = events(PORT_STATUS)  # 00 5A minutes, 04 D2 tenths of a watt
    assert event.values["remaining_min"] == 90
    assert event.values["power_w"] == pytest.approx(123.4)


STOP_KINDS = {
    StopReason.PAID_TIME_OR_ENERGY_USED_UP: ["charger.session_stopped"],
    StopReason.STOPPED_BY_USER: ["charger.session_stopped"],
    StopReason.BATTERY_FULL: ["charger.session_stopped"],
    StopReason.PORT_FAULT: ["charger.session_stopped", "charger.fault"],
    StopReason.OVER_PORT_POWER_LIMIT: ["charger.session_stopped", "charger.overpower"],
    StopReason.CARD_REFUND: ["charger.session_stopped"],
    StopReason.NO_CHARGER_CONNECTED: ["charger.session_stopped"],
}


def test_stop_reason_codes_match_the_table() -> None:
    assert {r.name.lower(): r.value for r in StopReason} == {
        "paid_time_or_energy_used_up": 0,
        "stopped_by_user": 1,
        "battery_full": 2,
        "port_fault": 3,
        "over_port_power_limit": 4,
        "card_refund": 5,
        "no_charger_connected": 6,
    }


@pytest.mark.parametrize("reason", list(StopReason))
def test_charge_finished_for_every_reason(reason: StopReason) -> None:
    session = bytes.fromhex("0A0B0C0D0E0F")
    raw = pile_frame(Command.CHARGE_FINISHED, bytes([4, reason]), session)
    evs = events(raw)
    assert kinds(evs) == STOP_KINDS[reason]
    stopped = evs[0]
    assert stopped.values == {
        "port": 4,
        "reason": reason.name.lower(),
        "reason_code": int(reason),
        "session": "0a0b0c0d0e0f",
    }
    for extra in evs[1:]:
        assert extra.values["port"] == 4 and extra.values["reason_code"] == reason
        assert extra.lane is Lane.ALARM
    assert reply_for(decode_frame(raw, PILE)) == encode_frame(0x05, session, b"\x04")


def test_charge_finished_extra_values() -> None:
    fault = events(pile_frame(Command.CHARGE_FINISHED, bytes([2, StopReason.PORT_FAULT])))[1]
    assert fault.values["fault"] == "port_fault"
    over = events(pile_frame(Command.CHARGE_FINISHED, bytes([2, 0x04])))[1]
    assert (over.values["limit"], over.severity) == ("port", Severity.MEDIUM)


def test_charge_finished_with_unknown_reason_is_still_a_stop() -> None:
    [event] = events(pile_frame(Command.CHARGE_FINISHED, bytes([1, 0x42])))
    assert event.kind == "charger.session_stopped"
    assert (event.values["reason"], event.values["reason_code"]) == ("unknown", 0x42)


FAULT_KINDS = {
    FaultCode.PORT_OUTPUT_FAULT: "charger.fault",
    FaultCode.TOTAL_POWER_TOO_HIGH: "charger.overpower",
    FaultCode.POWER_SUPPLY_FAULT: "charger.fault",
}


@pytest.mark.parametrize("code", list(FaultCode))
@pytest.mark.parametrize(("port_byte", "port", "whole"), [(3, 3, False), (0xFF, 0, True)])
def test_fault_report_for_every_code(
    code: FaultCode, port_byte: int, port: int, whole: bool
) -> None:
    raw = pile_frame(Command.FAULT_REPORT, bytes([port_byte, code]))
    [event] = events(raw)
    assert event.kind == FAULT_KINDS[code]
    assert event.lane is Lane.ALARM
    assert event.values["port"] == port and event.values["whole_pile"] is whole
    assert (event.values["fault"], event.values["fault_code"]) == (code.name.lower(), code)
    if code is FaultCode.TOTAL_POWER_TOO_HIGH:
        assert event.values["limit"] == "pile"
    # The acknowledgement echoes the port byte as sent (0xFF stays 0xFF).
    assert reply_for(decode_frame(raw, PILE)) == encode_frame(0x0D, SESSION, bytes([port_byte]))


def test_unknown_fault_code_is_still_a_fault_alarm() -> None:
    [event] = events(pile_frame(Command.FAULT_REPORT, bytes([0xFF, 0x09])))
    assert event.kind == "charger.fault"
    assert (event.values["fault"], event.values["fault_code"], event.values["port"]) == (
        "unknown",
        9,
        0,
    )


WARNING_KINDS = {
    BoardWarning.OVER_TEMPERATURE: ("charger.overtemperature", Severity.CRITICAL),
    BoardWarning.CABINET_DOOR_OPEN: ("charger.cabinet_open", Severity.MEDIUM),
    BoardWarning.POWER_OUTAGE: ("charger.power_outage", Severity.MEDIUM),
    BoardWarning.SMOKE: ("charger.smoke", Severity.CRITICAL),
}


def test_board_warning_codes_match_the_table() -> None:
    assert [(w.value, w.name) for w in BoardWarning] == [
        (1, "OVER_TEMPERATURE"),
        (2, "CABINET_DOOR_OPEN"),
        (3, "POWER_OUTAGE"),
        (4, "SMOKE"),
    ]


@pytest.mark.parametrize("warning", list(BoardWarning))
def test_board_warning_for_every_code(warning: BoardWarning) -> None:
    raw = pile_frame(Command.BOARD_WARNING, bytes([warning]))
    assert raw[2] == 0x0E  # the assumed command byte (see the package docstring)
    [event] = events(raw)
    assert (event.kind, event.severity) == WARNING_KINDS[warning]
    assert event.lane is Lane.ALARM
    assert event.values == {
        "port": 0,
        "whole_pile": True,
        "warning": warning.name.lower(),
        "warning_code": int(warning),
    }
    assert reply_for(decode_frame(raw, PILE)) == encode_frame(0x0E, SESSION, bytes([warning]))


def test_unknown_board_warning_is_not_dropped() -> None:
    [event] = events(pile_frame(Command.BOARD_WARNING, bytes([0x09])))
    assert event.kind == "charger.fault"
    assert (event.values["warning"], event.values["warning_code"]) == ("unknown", 9)


def test_start_answer_gives_session_started_unless_refused() -> None:
    session = bytes.fromhex("00000000BEEF")
    [ok] = events(pile_frame(Command.START_CHARGING, bytes([6, 0x00]), session))
    assert ok.kind == "charger.session_started"
    assert ok.values == {"port": 6, "session": "00000000beef"}
    assert kinds(events(pile_frame(Command.START_CHARGING, bytes([6])))) == [
        "charger.session_started"
    ]
    assert events(pile_frame(Command.START_CHARGING, bytes([6, 0x01]))) == []


def test_remote_stop_answer_gives_no_event() -> None:
    # The stop is reported by the charge finished (0x05) that follows it.
    assert events(pile_frame(Command.REMOTE_STOP, bytes([6, 0x00]))) == []


@pytest.mark.parametrize(
    ("cmd", "data"),
    [
        (Command.PORT_STATUS, bytes([1, 0, 0, 0])),
        (Command.CHARGE_FINISHED, bytes([1])),
        (Command.FAULT_REPORT, bytes([1])),
        (Command.BOARD_WARNING, b""),
        (Command.START_CHARGING, b""),
        (Command.REMOTE_STOP, b""),
    ],
)
def test_data_too_short_for_its_layout_raises(cmd: Command, data: bytes) -> None:
    raw = pile_frame(cmd, data)
    with pytest.raises(EbikeDecodeError, match="needs") as info:
        events(raw)
    assert info.value.raw == raw


def test_extra_trailing_data_is_ignored_so_alarms_get_through() -> None:
    [event] = events(pile_frame(Command.FAULT_REPORT, bytes([3, 1, 0xAA, 0xBB])))
    assert event.kind == "charger.fault" and event.values["port"] == 3


@pytest.mark.parametrize("cmd", [0x00, 0x03, 0x04, 0x07, 0x0C, 0x0F, 0x66, 0xFF])
def test_unknown_command_raises(cmd: int) -> None:
    raw = pile_frame(cmd, b"\x01\x02")
    with pytest.raises(EbikeDecodeError, match="unknown command") as info:
        events(raw)
    assert info.value.raw == raw
    assert reply_for(decode_frame(raw, PILE)) is None


def test_gateway_frames_are_not_pile_reports() -> None:
    with pytest.raises(EbikeDecodeError, match="not a pile's report"):
        events(GOLDEN_ACK)
    assert reply_for(decode_frame(GOLDEN_ACK, PILE)) is None


@pytest.mark.parametrize("pile_id", ["", "abc", "x" * 33, "pile 1", "pile:1"])
def test_frame_without_a_valid_pile_id_raises(pile_id: str) -> None:
    with pytest.raises(EbikeDecodeError, match="no valid pile id"):
        events(GOLDEN, pile_id=pile_id)


@pytest.mark.parametrize(
    "raw", [ALL_STATUS, PORT_STATUS, pile_frame(Command.START_CHARGING, b"\x01\x00")]
)
def test_no_reply_for_reports_that_need_none(raw: bytes) -> None:
    assert reply_for(decode_frame(raw, PILE)) is None


def test_acknowledgement_of_malformed_report_still_goes_out() -> None:
    # The edge answers frames whose content it dead-letters, so the pile stops resending.
    frame = decode_frame(pile_frame(Command.CHARGE_FINISHED, b""), PILE)
    with pytest.raises(EbikeDecodeError):
        events(frame.raw)
    assert reply_for(frame) == encode_frame(0x05, SESSION, b"")


def test_events_are_json_round_trippable() -> None:
    for raw in SEED_FRAMES:
        for event in events(raw):
            again = DeviceEvent.model_validate_json(event.model_dump_json())
            assert again == event and again.raw == raw
            assert KINDS[event.kind].severity == event.severity


# -- commands down --------------------------------------------------------------------


def test_commands_down_exact_bytes() -> None:
    # SUMs worked out by hand: 0B^02^01^03^00^78 = 73, 09^0B^01^03 = 00, 09^06^01^03 = 0D.
    assert start_charging(SESSION, 3, 120) == bytes.fromhex("EE0B0200000000000103007873")
    assert remote_stop(SESSION, 3) == bytes.fromhex("EE090B00000000000103" + "00")
    assert query_port(SESSION, 3) == bytes.fromhex("EE0906000000000001030D")


@pytest.mark.parametrize(
    ("raw", "cmd", "data"),
    [
        (start_charging(SESSION, 10, 0x1234), 0x02, bytes([10, 0x12, 0x34])),
        (remote_stop(SESSION, 0), 0x0B, bytes([0])),
        (query_port(SESSION, 254), 0x06, bytes([254])),
    ],
)
def test_commands_down_decode_as_gateway_frames(raw: bytes, cmd: int, data: bytes) -> None:
    frame = decode_frame(raw)
    assert (frame.sop, frame.cmd, frame.session, frame.data) == (GATEWAY_SOP, cmd, SESSION, data)
    assert raw[-1] == xor_sum(raw[1:-1])


@pytest.mark.parametrize(
    "build",
    [
        lambda: start_charging(SESSION, 0xFF, 10),
        lambda: start_charging(SESSION, -1, 10),
        lambda: start_charging(SESSION, 1, 0x10000),
        lambda: start_charging(SESSION, 1, -1),
        lambda: remote_stop(SESSION, 256),
        lambda: query_port(b"\x00" * 5, 1),
        lambda: encode_frame(0x01, SESSION, b"\x00" * (MAX_DATA_BYTES + 1)),
        lambda: encode_frame(0x100, SESSION, b""),
        lambda: encode_frame(0x01, SESSION, b"", sop=0x55),
        lambda: session_bytes(1 << 48),
    ],
)
def test_unencodable_commands_raise_value_error(build: Callable[[], bytes]) -> None:
    with pytest.raises(ValueError):
        build()


def test_largest_and_smallest_frames() -> None:
    largest = encode_frame(0x01, SESSION, bytes(range(MAX_DATA_BYTES)))
    assert len(largest) == MAX_FRAME_BYTES == 257 and largest[1] == 0xFF
    smallest = encode_frame(0x01, SESSION, b"")
    assert len(smallest) == 10 and smallest[1] == 8
    assert decode_frame(largest).data == bytes(range(MAX_DATA_BYTES))
    assert decode_frame(smallest).data == b""


def test_session_bytes_is_big_endian() -> None:
    assert session_bytes(1) == SESSION
    assert session_bytes(0x0102030405) == bytes.fromhex("000102030405")


# -- decode_frame rejects -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty input"),
        (b"\x55" + GOLDEN[1:], "SOP must be 0x66 or 0xEE"),
        (b"\x66", "truncated"),
        (GOLDEN[:-1], "truncated"),
        (GOLDEN + b"\x00", "1 trailing bytes"),
        (GOLDEN + GOLDEN, "12 trailing bytes"),
        (bytes.fromhex("6607 0D000000000001 03"), "LEN below 8"),
        (bytes.fromhex("6600"), "LEN below 8"),
        (GOLDEN[:-1] + b"\x05", "checksum mismatch"),
        (GOLDEN[:9] + b"\x04" + GOLDEN[10:], "checksum mismatch"),
    ],
)
def test_decode_frame_rejects(raw: bytes, reason: str) -> None:
    with pytest.raises(EbikeDecodeError, match=reason) as info:
        decode_frame(raw)
    assert info.value.raw == raw


def test_decode_frame_accepts_both_directions() -> None:
    assert decode_frame(GOLDEN).sop == PILE_SOP
    assert decode_frame(GOLDEN_ACK).sop == GATEWAY_SOP


# -- DTU registration -----------------------------------------------------------------


def test_registration_assumption_pile_id_comes_from_the_dtu_registration_packet() -> None:
    """ASSUMPTION, documented here and in the package docstring: the protocol has no identity
    frame, so the pile's id is the ASCII registration packet its USR-style DTU sends once on
    connect, ``[A-Za-z0-9_-]{4,32}``, ended by an optional CRLF or by the first frame. It
    gives one device.login, and its id is stamped on every later frame."""
    stream = EbikeStream()
    assert stream.pile_id is None
    out = stream.feed(b"PILE_07-B\r\n" + GOLDEN + ALL_STATUS)
    assert out[0] == Registration("PILE_07-B", b"PILE_07-B\r\n")
    assert [f.pile_id for f in frames_of(out)] == ["PILE_07-B", "PILE_07-B"]
    assert stream.pile_id == "PILE_07-B"
    [login] = to_events(out[0], received_at=RECEIVED, gateway_id=GATEWAY)
    assert login.kind == "device.login" and login.device_id == "ebike:PILE_07-B"
    assert login.values == {"pile_id": "PILE_07-B"} and login.raw == b"PILE_07-B\r\n"
    assert reply_for(out[0]) is None
    docs = ebike_pkg.__doc__ or ""
    assert "registration packet" in docs and "ASSUMPTION" in docs and "0x0e" in docs


@pytest.mark.parametrize(
    ("pile_id", "terminator"),
    [
        ("pile0001", b""),  # ends where the first frame begins
        ("pile0001", b"\r\n"),
        ("chief-01", b""),  # contains 0x66 ('f'), the pile's SOP
        ("beef", b""),  # ends with 'f': the next 'f' is the SOP
        ("ffff", b""),
        ("f" * 32, b""),
        ("abcf", b"\r\n"),
        ("A" * 32, b""),
    ],
)
def test_registration_ends_at_crlf_or_the_first_frame(pile_id: str, terminator: bytes) -> None:
    out = EbikeStream().feed(pile_id.encode() + terminator + GOLDEN + FINISHED)
    assert out == [
        Registration(pile_id, pile_id.encode() + terminator),
        decode_frame(GOLDEN, pile_id),
        decode_frame(FINISHED, pile_id),
    ]


def test_registration_followed_by_frame_whose_len_is_an_id_character() -> None:
    # 40 ports: LEN = 8 + 41 = 49 = ASCII '1', so the id characters run on past the SOP.
    raw = pile_frame(Command.ALL_PORT_STATUS, bytes([40, *([1] * 40)]))
    assert chr(raw[1]) == "1"
    out = EbikeStream().feed(b"pile" + raw)
    assert out == [Registration("pile", b"pile"), decode_frame(raw, "pile")]


def test_registration_followed_by_damaged_frame_still_registers() -> None:
    damaged = GOLDEN[:-1] + b"\x00"
    out = EbikeStream().feed(b"chief-01" + damaged + GOLDEN)
    assert out == [
        Registration("chief-01", b"chief-01"),
        Rejected(damaged, "checksum mismatch"),
        decode_frame(GOLDEN, "chief-01"),
    ]


def test_registration_alone_waits_for_frame_or_close() -> None:
    stream = EbikeStream()
    assert stream.feed(b"pile0001") == []  # the id might go on
    assert stream.buffered == 8
    assert stream.flush() == [Registration("pile0001", b"pile0001")]
    assert stream.buffered == 0


def test_registration_with_crlf_is_immediate() -> None:
    assert EbikeStream().feed(b"pile0001\r\n") == [Registration("pile0001", b"pile0001\r\n")]


def test_registration_split_at_every_byte_position() -> None:
    data = b"chief-01" + GOLDEN + ALL_STATUS
    whole = EbikeStream().feed(data)
    assert isinstance(whole[0], Registration) and len(frames_of(whole)) == 2
    for cut in range(len(data) + 1):
        assert feed_all(EbikeStream(), data[:cut], data[cut:]) == whole, cut


def test_frames_before_registration_are_rejected_then_registration_is_accepted() -> None:
    stream = EbikeStream()
    out = stream.feed(GOLDEN + FINISHED + b"pile0001\r\n" + GOLDEN)
    assert out == [
        Rejected(GOLDEN, NO_REGISTRATION),
        Rejected(FINISHED, NO_REGISTRATION),
        Registration("pile0001", b"pile0001\r\n"),
        decode_frame(GOLDEN, "pile0001"),
    ]
    assert NO_REGISTRATION == "no DTU registration packet on this connection yet"


def test_connection_not_opening_with_a_registration_is_never_identified_by_garbage() -> None:
    # Bytes inside rejected garbage are never taken for an id, even when they look like one.
    stream = EbikeStream()
    out = stream.feed(b"\x00\x01" + b"pile0001\r\n" + GOLDEN)
    assert out == [
        Rejected(b"\x00\x01pile0001\r\n", NOT_A_REGISTRATION),
        Rejected(GOLDEN, NO_REGISTRATION),
    ]
    assert stream.pile_id is None


@pytest.mark.parametrize(
    ("data", "first_reason"),
    [
        (b"abc\r\n", NOT_A_REGISTRATION),  # too short
        (b"a" * 33 + b"\r\n", NOT_A_REGISTRATION),  # too long
        (b"pile 01\r\n", NOT_A_REGISTRATION),  # space is not an id character: not "pile"
        (b"pilef 01\r\n", NOT_A_REGISTRATION),  # 'f' then no frame header: not "pile"
        (b"pile01\x00", NOT_A_REGISTRATION),  # ended by neither CRLF nor a frame
    ],
)
def test_invalid_registration_ids_are_rejected(data: bytes, first_reason: str) -> None:
    stream = EbikeStream()
    out = stream.feed(data + GOLDEN) + stream.flush()
    assert isinstance(out[0], Rejected) and out[0].reason == first_reason
    assert out[-1] == Rejected(GOLDEN, NO_REGISTRATION)
    assert not any(isinstance(i, Registration | EbikeFrame) for i in out)


def test_pile_id_of_dash_and_underscore_before_frame() -> None:
    assert EbikeStream().feed(b"a-_9" + GOLDEN)[0] == Registration("a-_9", b"a-_9")


def test_only_one_registration_per_connection() -> None:
    out = EbikeStream().feed(registered(GOLDEN) + b"other01\r\n" + GOLDEN)
    assert [type(i).__name__ for i in out] == [
        "Registration",
        "EbikeFrame",
        "Rejected",
        "EbikeFrame",
    ]
    assert out[2] == Rejected(b"other01\r\n", OUTSIDE_FRAME)
    assert frames_of(out)[1].pile_id == PILE


def test_stream_with_known_pile_id_expects_no_registration() -> None:
    out = EbikeStream(pile_id="known01").feed(GOLDEN)
    assert out == [decode_frame(GOLDEN, "known01")]


def test_stream_constructor_validates() -> None:
    with pytest.raises(ValueError):
        EbikeStream(sop=0x55)
    with pytest.raises(ValueError):
        EbikeStream(pile_id="no")


# -- streams --------------------------------------------------------------------------


def test_several_frames_in_one_read() -> None:
    out = EbikeStream().feed(registered(*SEED_FRAMES))
    assert frames_of(out) == [decode_frame(raw, PILE) for raw in SEED_FRAMES]
    assert len(out) == 1 + len(SEED_FRAMES)


@pytest.mark.parametrize("raw", SEED_FRAMES)
def test_frame_split_at_every_byte_position(raw: bytes) -> None:
    data = registered(raw, GOLDEN)
    for cut in range(len(data) + 1):
        stream = EbikeStream()
        out = feed_all(stream, data[:cut], data[cut:])
        assert frames_of(out) == [decode_frame(raw, PILE), decode_frame(GOLDEN, PILE)], cut
        assert stream.buffered == 0


def test_byte_by_byte_feed() -> None:
    data = registered(*SEED_FRAMES)
    stream = EbikeStream()
    out = feed_all(stream, *(data[i : i + 1] for i in range(len(data))))
    assert out == EbikeStream().feed(data)


def test_garbage_between_frames_is_rejected_and_the_next_frame_decoded() -> None:
    out = EbikeStream().feed(registered(GOLDEN, b"\x00\x01\x02", FINISHED, b"\xff"))
    assert out[1:] == [
        decode_frame(GOLDEN, PILE),
        Rejected(b"\x00\x01\x02", OUTSIDE_FRAME),
        decode_frame(FINISHED, PILE),
        Rejected(b"\xff", OUTSIDE_FRAME),
    ]


def test_bad_checksum_is_rejected_and_the_stream_resyncs_on_the_next_sop() -> None:
    bad = GOLDEN[:-1] + b"\x99"
    out = EbikeStream().feed(registered(bad, FINISHED))
    assert out[1:] == [Rejected(bad, "checksum mismatch"), decode_frame(FINISHED, PILE)]


def test_bad_checksum_with_sop_inside_resyncs_there() -> None:
    # A flipped bit in DATA; the frame's DATA holds a 0x66 where the scan restarts.
    bad = pile_frame(Command.CHARGE_FINISHED, b"\x66\x01")[:-1] + b"\x00"
    out = EbikeStream().feed(registered(bad, GOLDEN))
    rejected = b"".join(i.raw for i in out if isinstance(i, Rejected))
    assert rejected == bad
    assert frames_of(out) == [decode_frame(GOLDEN, PILE)]


def test_short_len_is_rejected_at_once() -> None:
    out = EbikeStream().feed(registered(b"\x66\x07\x0d", GOLDEN))
    assert out[1] == Rejected(b"\x66\x07\x0d", "LEN below 8 (0x07)")
    assert out[2] == decode_frame(GOLDEN, PILE)


def test_oversize_len_waits_bounded_then_recovers_the_frames_it_swallowed() -> None:
    # A corrupt LEN of 0xFF claims 257 bytes; the good frames behind it are scanned again.
    stream = EbikeStream()
    out = stream.feed(registered(b"\x66\xff", GOLDEN, FINISHED))
    assert frames_of(out) == []  # waiting: the frame could still be 257 bytes long
    assert 0 < stream.buffered <= MAX_FRAME_BYTES
    filler = b"\x00" * MAX_FRAME_BYTES
    out = stream.feed(filler)
    assert out[0] == Rejected(b"\x66\xff", "checksum mismatch")
    assert frames_of(out) == [decode_frame(GOLDEN, PILE), decode_frame(FINISHED, PILE)]
    assert out[-1] == Rejected(filler, OUTSIDE_FRAME)
    assert stream.buffered == 0


def test_flush_rejects_an_incomplete_frame_and_recovers_what_follows() -> None:
    stream = EbikeStream()
    stream.feed(registered())
    assert stream.feed(b"\x66\xff" + GOLDEN) == []
    out = stream.flush()
    assert out == [Rejected(b"\x66\xff", INCOMPLETE_AT_CLOSE), decode_frame(GOLDEN, PILE)]
    assert stream.buffered == 0


def test_flush_rejects_a_truncated_frame() -> None:
    stream = EbikeStream()
    stream.feed(registered(GOLDEN[:7]))
    assert stream.flush() == [Rejected(GOLDEN[:7], INCOMPLETE_AT_CLOSE)]


def test_buffer_stays_bounded_while_waiting_for_registration_and_frame() -> None:
    # The worst wait: 32 id characters whose last is 'f', then a SOP with a LEN of 255.
    stream = EbikeStream()
    assert stream.feed(b"a" * 31 + b"f" + b"\x66\xff\x01" + b"\x00" * 250) == []
    assert MAX_BUFFER_BYTES - MAX_FRAME_BYTES < stream.buffered <= MAX_BUFFER_BYTES
    out = stream.feed(b"\x00" * 1000)
    assert stream.buffered == 0
    # That frame turned out bad, but it looked like one: the id before it stands.
    assert out[0] == Registration("a" * 31 + "f", b"a" * 31 + b"f")
    assert isinstance(out[1], Rejected) and out[1].reason == "checksum mismatch"


def test_largest_frame_through_the_stream() -> None:
    raw = pile_frame(0x01, bytes([246, *([1] * 246)]))
    assert len(raw) == MAX_FRAME_BYTES
    assert frames_of(EbikeStream().feed(registered(raw))) == [decode_frame(raw, PILE)]


def test_gateway_direction_stream_reads_acknowledgements() -> None:
    stream = EbikeStream(sop=GATEWAY_SOP, pile_id=PILE)
    out = stream.feed(GOLDEN + GOLDEN_ACK)
    assert out == [Rejected(GOLDEN, OUTSIDE_FRAME), decode_frame(GOLDEN_ACK, PILE)]


# -- the adapter ----------------------------------------------------------------------


def test_adapter_contract() -> None:
    assert ADAPTER.name == PROTOCOL == "ebike"
    assert ADAPTER.family is DeviceFamily.CHARGER
    assert ADAPTER.transport == "tcp"
    stream = ADAPTER.new_stream()
    items = stream.feed(registered(GOLDEN))
    reg, frame = items
    assert not isinstance(reg, Rejected) and not isinstance(frame, Rejected)
    assert ADAPTER.device_id(reg) == ADAPTER.device_id(frame) == f"ebike:{PILE}"
    assert kinds(ADAPTER.to_events(reg, received_at=RECEIVED, gateway_id=GATEWAY)) == [
        "device.login"
    ]
    assert ADAPTER.reply_for(frame) == GOLDEN_ACK


# -- the simulated pile ---------------------------------------------------------------


def make_pile(ports: int = 10, seed: int = 7) -> SimulatedEbikePile:
    return SimulatedEbikePile("sim-pile-1", ports, rng=random.Random(seed))


def hub_side(*chunks: bytes) -> list[Item]:
    return feed_all(EbikeStream(), *chunks)


def test_simulated_pile_speaks_the_protocol() -> None:
    pile = make_pile()
    out = hub_side(pile.registration(), pile.all_port_status(), pile.port_status(3))
    reg, status, port3 = out
    assert reg == Registration("sim-pile-1", b"sim-pile-1\r\n")
    assert isinstance(status, EbikeFrame) and isinstance(port3, EbikeFrame)
    evs = to_events(status, received_at=RECEIVED, gateway_id=GATEWAY)
    states = [e.values["status"] for e in evs]
    assert states == ["charging" if p.charging else "idle" for p in pile.ports]
    assert "charging" in states  # a plausible pile: some ports in use
    [e3] = to_events(port3, received_at=RECEIVED, gateway_id=GATEWAY)
    p3 = pile.port(3)
    assert e3.values["power_w"] == p3.power_tenths_w / 10
    assert e3.values["remaining_min"] == p3.remaining_min


def test_simulated_pile_registration_without_crlf() -> None:
    pile = make_pile()
    out = hub_side(pile.registration(crlf=False) + pile.all_port_status())
    assert out[0] == Registration("sim-pile-1", b"sim-pile-1")
    assert len(frames_of(out)) == 1


def test_simulated_pile_reports_are_resent_until_acknowledged() -> None:
    pile = make_pile()
    charging = next(p.number for p in pile.ports if p.charging)
    reports = [
        pile.charge_finished(charging, StopReason.BATTERY_FULL),
        pile.fault(0xFF, FaultCode.POWER_SUPPLY_FAULT),
        pile.board_warning(BoardWarning.SMOKE),
    ]
    assert not pile.port(charging).charging
    assert pile.unacknowledged() == reports
    frames = frames_of(hub_side(pile.registration(), *reports))
    assert [f.cmd for f in frames] == [0x05, 0x0D, 0x0E]
    acks = [reply_for(f) for f in frames]
    assert all(a is not None for a in acks)
    # Acks arrive byte by byte; each one clears its report.
    for ack in acks:
        assert ack is not None
        for i in range(len(ack)):
            assert pile.receive(ack[i : i + 1]) == []
    assert pile.unacknowledged() == []
    assert pile.acks_received == 3 and pile.unexpected == [] and pile.rejected == []


def test_simulated_pile_ignores_a_wrong_acknowledgement() -> None:
    pile = make_pile()
    report = pile.fault(3, FaultCode.PORT_OUTPUT_FAULT)
    frame = decode_frame(report, "sim-pile-1")
    pile.receive(encode_frame(0x0D, frame.session, b"\x04"))  # wrong port echoed
    assert pile.unacknowledged() == [report]
    assert len(pile.unexpected) == 1


def test_simulated_pile_answers_commands() -> None:
    pile = make_pile(ports=4, seed=1)
    idle = next(p.number for p in pile.ports if not p.charging)
    session = session_bytes(0xABC)
    answers = pile.receive(start_charging(session, idle, 90))
    [answer] = frames_of(hub_side(pile.registration(), *answers))
    assert (answer.cmd, answer.session, answer.data) == (0x02, session, bytes([idle, RESULT_OK]))
    [started] = to_events(answer, received_at=RECEIVED, gateway_id=GATEWAY)
    assert started.kind == "charger.session_started"
    assert pile.port(idle).charging and pile.port(idle).remaining_min == 90

    # Starting a busy port is refused, and gives no event.
    [refused] = frames_of(
        hub_side(pile.registration(), *pile.receive(start_charging(session, idle, 5)))
    )
    assert refused.data == bytes([idle, RESULT_REFUSED])
    assert to_events(refused, received_at=RECEIVED, gateway_id=GATEWAY) == []

    [status] = frames_of(hub_side(pile.registration(), *pile.receive(query_port(session, idle))))
    [event] = to_events(status, received_at=RECEIVED, gateway_id=GATEWAY)
    assert event.values["availability"] == "charging" and event.values["remaining_min"] == 90

    stop_answers = pile.receive(remote_stop(session, idle))
    ack, finished = frames_of(hub_side(pile.registration(), *stop_answers))
    assert (ack.cmd, finished.cmd) == (0x0B, 0x05)
    assert finished.session == session  # the session the start opened
    assert kinds(to_events(finished, received_at=RECEIVED, gateway_id=GATEWAY)) == [
        "charger.session_stopped"
    ]
    assert finished.data == bytes([idle, StopReason.STOPPED_BY_USER])
    assert not pile.port(idle).charging
    assert [f.cmd for f in pile.commands_received] == [0x02, 0x02, 0x06, 0x0B]


def test_simulated_pile_time_runs_out() -> None:
    pile = make_pile()
    charging = [p.number for p in pile.ports if p.charging]
    finished = pile.advance(24 * 60)
    frames = frames_of(hub_side(pile.registration(), *finished))
    assert sorted(f.data[0] for f in frames) == charging
    assert all(f.data[1] == StopReason.PAID_TIME_OR_ENERGY_USED_UP for f in frames)
    assert not any(p.charging for p in pile.ports)


def test_simulated_pile_validates_arguments() -> None:
    with pytest.raises(ValueError):
        SimulatedEbikePile("no")
    with pytest.raises(ValueError):
        SimulatedEbikePile("pile01", ports=0)
    pile = make_pile(ports=4)
    with pytest.raises(ValueError):
        pile.port_status(5)
    with pytest.raises(ValueError):
        pile.fault(9, 1)
