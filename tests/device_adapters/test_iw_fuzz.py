"""Property-based tests: the IW codec raises only IwDecodeError, the stream never raises, stays
bounded and accounts for every byte it was fed, and frames survive encode/decode."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_adapters.iw import (
    MAX_FRAME_BYTES,
    IwDecodeError,
    IwFrame,
    IwReplier,
    IwStream,
    Rejected,
    decode_frame,
    encode_frame,
    to_events,
)
from device_adapters.iw.codec import COMMAND_ANSWERS
from device_adapters.model import DeviceEvent
from tests.device_adapters.test_iw_codec import IMEI, LOGIN, REAL_FRAMES, alarm_frame

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RECEIVED = datetime(2024, 5, 1, tzinfo=UTC)
REPLIER = IwReplier(clock=lambda: RECEIVED)

# Real frames plus built ones that reach the alarm, fallback and health paths.
SEEDS = [
    *REAL_FRAMES,
    alarm_frame("05"),
    alarm_frame("03", fix="V", lat="0000.0000N", lon="00000.0000E"),
    encode_frame("10", "080524A22XX.9806N,460,0,9520,3671,01,zh-cn,00"),
    encode_frame("HP", ",,,,96,,,,,,,,,"),
]
MIN_STREAM_FRAME = 7


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
            data[i] = draw(st.sampled_from(b"#,|&.0159ANSVEWI \x00\xff"))
        elif op == "insert":
            data.insert(i, draw(st.integers(0, 255)))
        elif op == "delete":
            del data[i]
        else:
            del data[i:]
    return bytes(data)


def check_frame(frame: IwFrame) -> None:
    """Whatever decodes must normalize to events or fail with IwDecodeError only."""
    try:
        result = to_events(frame, received_at=RECEIVED, gateway_id="gw-fuzz")
    except IwDecodeError as exc:
        assert exc.raw == frame.raw
    else:
        assert all(isinstance(e, DeviceEvent) and e.raw == frame.raw for e in result)
        assert all(e.device_id == f"iw:{frame.imei}" for e in result)
    reply = REPLIER.reply_for(frame)
    if frame.frame_type in COMMAND_ANSWERS:  # the watch answering a command: no reply
        assert reply is None
        return
    assert reply is not None
    assert reply.startswith(b"IWBP" + frame.frame_type.encode()) and reply.endswith(b"#")


def decode_or_error(data: bytes) -> None:
    try:
        frame = decode_frame(data, IMEI)
    except IwDecodeError as exc:
        assert exc.raw == data
        return
    assert frame.raw == data
    check_frame(frame)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_decode_raises_only_decode_error(data: bytes) -> None:
    decode_or_error(data)


@FUZZ
@given(
    st.sampled_from([b"IWAP00", b"IWAP01", b"IWAP02,", b"IWAP03,", b"IWAP10", b"IWAPHP,"]),
    st.binary(max_size=200),
)
def test_random_bytes_after_valid_prefix(prefix: bytes, tail: bytes) -> None:
    # Reaches the content paths that fully random bytes rarely get to.
    decode_or_error(prefix + tail + b"#")


@FUZZ
@given(
    st.sampled_from(["01", "10"]),
    st.text(alphabet="0123456789.AVNSEW,|&-", max_size=120),
)
def test_location_like_text_raises_only_decode_error(type_: str, body: str) -> None:
    decode_or_error(encode_frame(type_, body))


def test_every_truncation_of_seed_frames_is_a_decode_error() -> None:
    for raw in SEEDS:
        for cut in range(len(raw)):
            try:
                decode_frame(raw[:cut], IMEI)
            except IwDecodeError as exc:
                assert exc.raw == raw[:cut]
            else:
                raise AssertionError(f"prefix {raw[:cut]!r} decoded")


@FUZZ
@given(mutated())
def test_mutated_frames_raise_only_decode_error(data: bytes) -> None:
    decode_or_error(data)


def feed_in_chunks(stream: IwStream, data: bytes, cuts: list[int]) -> list[IwFrame | Rejected]:
    out: list[IwFrame | Rejected] = []
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    for a, b in itertools.pairwise(bounds):
        out += stream.feed(data[a:b])
        assert stream.buffered <= stream.max_frame
    return out


@FUZZ
@given(
    st.lists(st.one_of(mutated(), st.binary(max_size=40), st.sampled_from(SEEDS)), max_size=8),
    st.lists(st.integers(0, 10_000), max_size=12),
    st.integers(MIN_STREAM_FRAME, 400),
    st.booleans(),
)
def test_stream_never_raises_stays_bounded_and_accounts_for_every_byte(
    parts: list[bytes], cuts: list[int], max_frame: int, login_first: bool
) -> None:
    data = (LOGIN if login_first else b"") + b"".join(parts)
    stream = IwStream(max_frame=max_frame)
    out = feed_in_chunks(stream, data, cuts)
    out += stream.flush()
    assert stream.buffered == 0
    assert b"".join(item.raw for item in out) == data
    imei: str | None = None
    for item in out:
        if isinstance(item, IwFrame):
            assert len(item.raw) <= max_frame
            # Stamped with the IMEI of the latest login before it, never guessed.
            if item.frame_type == "00":
                imei = item.imei
            assert item.imei == imei
            assert decode_frame(item.raw, imei) == item
            check_frame(item)
        else:
            assert item.raw and item.reason


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(SEEDS),
            st.binary(max_size=20).filter(lambda b: b"IWAP" not in b),
        ),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.integers(0, 10_000), max_size=12),
)
def test_stream_recovers_every_frame_between_garbage(
    pairs: list[tuple[bytes, bytes]], cuts: list[int]
) -> None:
    # Garbage without 'IWAP' between valid frames never costs a frame, however reads are cut.
    data = LOGIN + b"".join(frame + garbage for frame, garbage in pairs)
    stream = IwStream()
    out = feed_in_chunks(stream, data, cuts)
    out += stream.flush()
    frames = [item for item in out if isinstance(item, IwFrame)]
    assert frames == [decode_frame(LOGIN)] + [decode_frame(frame, IMEI) for frame, _ in pairs]
    rejected = b"".join(item.raw for item in out if isinstance(item, Rejected))
    assert rejected == b"".join(garbage for _, garbage in pairs)


frame_types = st.text(
    alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    min_size=2,
    max_size=2,
).filter(lambda t: t != "00")
bodies = st.text(
    alphabet=st.characters(blacklist_characters="#", blacklist_categories=("Cs",)),
    max_size=200,
).filter(lambda b: "IWAP" not in b)


@FUZZ
@given(frame_types, bodies)
def test_encode_decode_round_trip(type_: str, body: str) -> None:
    try:
        raw = encode_frame(type_, body)
    except ValueError:
        assert len(body.encode()) > MAX_FRAME_BYTES - 7
        return
    frame = decode_frame(raw, IMEI)
    assert frame == IwFrame(imei=IMEI, frame_type=type_, body=body, raw=raw)
    stream = IwStream()
    assert stream.feed(LOGIN + raw) == [decode_frame(LOGIN), frame]
    expected = None if type_ in COMMAND_ANSWERS else f"IWBP{type_}#".encode()
    assert REPLIER.reply_for(frame) == expected


@FUZZ
@given(st.text(alphabet="0123456789", min_size=15, max_size=15), bodies)
def test_login_round_trip(imei: str, extra: str) -> None:
    body = imei + ("," + extra if extra else "")
    raw = encode_frame("00", body)
    frame = decode_frame(raw)
    assert (frame.imei, frame.frame_type) == (imei, "00")
    [event] = to_events(frame, received_at=RECEIVED, gateway_id="gw")
    assert (event.kind, event.device_id) == ("device.login", f"iw:{imei}")
    assert event.values == {"imei": imei}
    assert REPLIER.reply_for(frame) == b"IWBP00,20240501000000,8#"
