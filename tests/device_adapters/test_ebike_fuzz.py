"""Property-based tests: the e-bike codec raises only EbikeDecodeError, the stream never raises,
stays bounded, accounts for every byte, and finds the registration and every intact frame."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_adapters.ebike import (
    GATEWAY_SOP,
    MAX_BUFFER_BYTES,
    MAX_DATA_BYTES,
    PILE_ID_RE,
    PILE_SOP,
    SESSION_BYTES,
    Command,
    EbikeDecodeError,
    EbikeFrame,
    EbikeStream,
    Registration,
    Rejected,
    decode_frame,
    encode_frame,
    reply_for,
    to_events,
)
from device_adapters.model import DeviceEvent
from tests.device_adapters.test_ebike_codec import GOLDEN, SEED_FRAMES, pile_frame

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RECEIVED = datetime(2024, 5, 1, tzinfo=UTC)
PILE = "pile-fuzz"

Item = EbikeFrame | Registration | Rejected

# Seeds reaching every command, plus an unknown one and the largest frame.
SEEDS = [
    *SEED_FRAMES,
    pile_frame(Command.START_CHARGING, b"\x02\x00"),
    pile_frame(Command.REMOTE_STOP, b"\x02\x00"),
    pile_frame(Command.FAULT_REPORT, b"\xff\x02"),
    pile_frame(0x42, b"\x00"),
    pile_frame(Command.ALL_PORT_STATUS, bytes([40, *([2] * 40)])),  # LEN is ASCII '1'
    encode_frame(Command.CHARGE_FINISHED, bytes(6), b"\x01\x03"),  # gateway direction
]

pile_ids = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-f",
    min_size=4,
    max_size=32,
)
sessions = st.binary(min_size=SESSION_BYTES, max_size=SESSION_BYTES)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed frame with a few bit flips, byte replacements, insertions, deletions or a cut."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "replace", "insert", "delete", "truncate"]))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "replace":
            data[i] = draw(st.sampled_from(b"\x66\xee\x00\xff\x07\x08\x0a\x0d\r\nf"))
        elif op == "insert":
            data.insert(i, draw(st.integers(0, 255)))
        elif op == "delete":
            del data[i]
        else:
            del data[i:]
    return bytes(data)


def check_frame(frame: EbikeFrame | Registration) -> None:
    """Whatever decodes normalizes to events or fails with EbikeDecodeError only, and an
    acknowledgement, if any, is a gateway frame of the same CMD and SESSION."""
    try:
        result = to_events(frame, received_at=RECEIVED, gateway_id="gw-fuzz")
    except EbikeDecodeError as exc:
        assert exc.raw == frame.raw
    else:
        assert all(isinstance(e, DeviceEvent) and e.raw == frame.raw for e in result)
        assert all(e.device_id == f"ebike:{frame.pile_id}" for e in result)
    reply = reply_for(frame)
    if reply is not None:
        assert isinstance(frame, EbikeFrame)
        back = decode_frame(reply)
        assert (back.sop, back.cmd, back.session) == (GATEWAY_SOP, frame.cmd, frame.session)
        assert back.data == frame.data[:1]


def check_decode(data: bytes) -> None:
    try:
        frame = decode_frame(data, PILE)
    except EbikeDecodeError as exc:
        assert exc.raw == data
        return
    assert frame.raw == data
    assert encode_frame(frame.cmd, frame.session, frame.data, sop=frame.sop) == data
    check_frame(frame)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_decode_raises_only_decode_error(data: bytes) -> None:
    check_decode(data)


@FUZZ
@given(st.integers(0, 255), st.binary(max_size=270))
def test_random_bytes_after_a_sop_and_len(length: int, rest: bytes) -> None:
    # Reaches the LEN, length and checksum paths that fully random bytes rarely get to.
    check_decode(bytes([PILE_SOP, length]) + rest)


@FUZZ
@given(st.sampled_from(list(Command)), sessions, st.binary(max_size=12))
def test_any_data_for_known_commands_decodes_or_raises_decode_error(
    cmd: Command, session: bytes, data: bytes
) -> None:
    check_decode(pile_frame(cmd, data, session))


def test_every_truncation_of_seed_frames_is_a_decode_error() -> None:
    for raw in SEEDS:
        for cut in range(len(raw)):
            try:
                decode_frame(raw[:cut])
            except EbikeDecodeError as exc:
                assert exc.raw == raw[:cut]
            else:
                raise AssertionError(f"prefix {raw[:cut].hex()} decoded")


def test_every_single_bit_flip_of_the_golden_frame_is_caught_or_harmless() -> None:
    # XOR catches every single-bit error in LEN..SUM; a flipped SOP is another direction
    # or not a frame.
    for i, bit in itertools.product(range(len(GOLDEN)), range(8)):
        data = bytearray(GOLDEN)
        data[i] ^= 1 << bit
        try:
            frame = decode_frame(bytes(data))
        except EbikeDecodeError:
            continue
        raise AssertionError(f"flip of byte {i} bit {bit} decoded as {frame}")


@FUZZ
@given(mutated())
def test_mutated_frames_raise_only_decode_error(data: bytes) -> None:
    check_decode(data)


def feed_in_chunks(stream: EbikeStream, data: bytes, cuts: list[int]) -> list[Item]:
    out: list[Item] = []
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    for a, b in itertools.pairwise(bounds):
        out += stream.feed(data[a:b])
        assert stream.buffered <= MAX_BUFFER_BYTES
    return out


@FUZZ
@given(
    st.sampled_from([b"", b"pile-01\r\n", b"chief", b"pile-01"]),
    st.lists(st.one_of(mutated(), st.binary(max_size=40), st.sampled_from(SEEDS)), max_size=8),
    st.lists(st.integers(0, 10_000), max_size=12),
)
def test_stream_never_raises_stays_bounded_and_accounts_for_every_byte(
    head: bytes, parts: list[bytes], cuts: list[int]
) -> None:
    data = head + b"".join(parts)
    stream = EbikeStream()
    out = feed_in_chunks(stream, data, cuts)
    out += stream.flush()
    assert stream.buffered == 0
    assert b"".join(item.raw for item in out) == data
    assert sum(isinstance(item, Registration) for item in out) <= 1
    for item in out:
        if isinstance(item, EbikeFrame):
            assert decode_frame(item.raw, item.pile_id) == item
            check_frame(item)
        elif isinstance(item, Registration):
            assert PILE_ID_RE.fullmatch(item.pile_id)
            assert item.raw.startswith(item.pile_id.encode())
            check_frame(item)
        else:
            assert item.raw and item.reason


@FUZZ
@given(
    st.binary(min_size=1, max_size=2000),
    st.lists(st.integers(0, 10_000), max_size=20),
)
def test_stream_stays_bounded_on_long_noise(noise: bytes, cuts: list[int]) -> None:
    stream = EbikeStream(pile_id=PILE)
    out = feed_in_chunks(stream, noise, cuts) + stream.flush()
    assert b"".join(item.raw for item in out) == noise


@FUZZ
@given(
    pile_ids,
    st.booleans(),
    st.lists(
        st.tuples(
            st.sampled_from(SEEDS[:-1]),  # pile frames only
            st.binary(max_size=20).filter(lambda b: 0x66 not in b),
        ),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.integers(0, 10_000), max_size=12),
)
def test_registration_and_every_frame_between_garbage_are_found(
    pile_id: str, crlf: bool, pairs: list[tuple[bytes, bytes]], cuts: list[int]
) -> None:
    # Whatever the id (including 'f', the SOP) and however reads are cut, the id is found,
    # and garbage without 0x66 between frames never costs a frame.
    head = pile_id.encode() + (b"\r\n" if crlf else b"")
    data = head + b"".join(frame + garbage for frame, garbage in pairs)
    out = feed_in_chunks(EbikeStream(), data, cuts)
    assert out[0] == Registration(pile_id, head)
    frames = [item for item in out if isinstance(item, EbikeFrame)]
    assert frames == [decode_frame(frame, pile_id) for frame, _ in pairs]
    rejected = b"".join(item.raw for item in out if isinstance(item, Rejected))
    assert rejected == b"".join(garbage for _, garbage in pairs)


@FUZZ
@given(st.integers(0, 255), sessions, st.binary(max_size=250), st.booleans())
def test_encode_decode_round_trip(cmd: int, session: bytes, data: bytes, from_pile: bool) -> None:
    sop = PILE_SOP if from_pile else GATEWAY_SOP
    try:
        raw = encode_frame(cmd, session, data, sop=sop)
    except ValueError:
        # LEN is one byte: DATA beyond 247 bytes cannot be framed.
        assert len(data) > MAX_DATA_BYTES
        return
    assert len(raw) == len(data) + 10 and raw[1] == len(data) + 8
    frame = decode_frame(raw, PILE)
    assert (frame.sop, frame.cmd, frame.session, frame.data, frame.raw) == (
        sop,
        cmd,
        session,
        data,
        raw,
    )
    stream = EbikeStream(sop=sop, pile_id=PILE)
    assert stream.feed(raw) == [frame]
