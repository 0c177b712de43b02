"""Property-based tests: the Watch codec raises only WatchDecodeError, the stream never raises,
stays bounded, and accounts for every byte it was fed."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_adapters.model import DeviceEvent
from device_adapters.watch import (
    MIN_BUFFER_BYTES,
    Rejected,
    WatchDecodeError,
    WatchFrame,
    WatchStream,
    decode_frame,
    encode_frame,
    reply_for,
    to_events,
)
from tests.device_adapters.test_watch_codec import ALL_REAL_FRAMES, JXTK_BUILT, position

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RECEIVED = datetime(2024, 5, 1, tzinfo=UTC)

# Real frames plus built ones that reach the alarm and index paths.
SEEDS = [
    *ALL_REAL_FRAMES,
    JXTK_BUILT,
    position("007F4017"),
    encode_frame("ZJ", "014111001350304", "LK,0,10,100", index="0038"),
    encode_frame("SG", "8800000015", "INIT,13800138000,1,1"),
    encode_frame("3G", "1234567890", "oxygen,72,98"),
    encode_frame("3G", "1234567890", "TEMP,36.5"),
]


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
            data[i] = draw(st.sampled_from(b"[]*,0aZ.- \x00\xff"))
        elif op == "insert":
            data.insert(i, draw(st.integers(0, 255)))
        elif op == "delete":
            del data[i]
        else:
            del data[i:]
    return bytes(data)


def check_frame(frame: WatchFrame) -> None:
    """Whatever decodes must normalize to events or fail with WatchDecodeError only."""
    try:
        result = to_events(frame, received_at=RECEIVED, gateway_id="gw-fuzz")
    except WatchDecodeError as exc:
        assert exc.raw == frame.raw
    else:
        assert all(isinstance(e, DeviceEvent) and e.raw == frame.raw for e in result)
    reply = reply_for(frame)
    if reply is not None:
        back = decode_frame(reply)
        assert (back.manufacturer, back.device_id, back.index) == (
            frame.manufacturer,
            frame.device_id,
            frame.index,
        )


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_decode_raises_only_decode_error(data: bytes) -> None:
    try:
        frame = decode_frame(data)
    except WatchDecodeError as exc:
        assert exc.raw == data
    else:
        assert frame.raw == data
        check_frame(frame)


@FUZZ
@given(st.binary(max_size=200).map(lambda b: b"[3G*1234567890*" + b))
def test_random_bytes_after_valid_prefix(data: bytes) -> None:
    # Reaches the LEN/INDEX/content paths that fully random bytes rarely get to.
    try:
        frame = decode_frame(data)
    except WatchDecodeError:
        return
    assert frame.device_id == "1234567890"
    check_frame(frame)


def test_every_truncation_of_seed_frames_is_a_decode_error() -> None:
    for raw in SEEDS:
        for cut in range(len(raw)):
            try:
                decode_frame(raw[:cut])
            except WatchDecodeError as exc:
                assert exc.raw == raw[:cut]
            else:
                raise AssertionError(f"prefix {raw[:cut]!r} decoded")


@FUZZ
@given(mutated())
def test_mutated_frames_raise_only_decode_error(data: bytes) -> None:
    try:
        frame = decode_frame(data)
    except WatchDecodeError as exc:
        assert exc.raw == data
        return
    assert frame.raw == data
    check_frame(frame)


def feed_in_chunks(
    stream: WatchStream, data: bytes, cuts: list[int]
) -> list[WatchFrame | Rejected]:
    out: list[WatchFrame | Rejected] = []
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    for a, b in itertools.pairwise(bounds):
        out += stream.feed(data[a:b])
        assert stream.buffered <= stream.max_buffer
    return out


@FUZZ
@given(
    st.lists(st.one_of(mutated(), st.binary(max_size=40), st.sampled_from(SEEDS)), max_size=8),
    st.lists(st.integers(0, 10_000), max_size=12),
    st.integers(MIN_BUFFER_BYTES, 400),
)
def test_stream_never_raises_stays_bounded_and_accounts_for_every_byte(
    parts: list[bytes], cuts: list[int], max_buffer: int
) -> None:
    data = b"".join(parts)
    stream = WatchStream(max_buffer=max_buffer)
    out = feed_in_chunks(stream, data, cuts)
    out += stream.flush()
    assert stream.buffered == 0
    assert b"".join(item.raw for item in out) == data
    for item in out:
        if isinstance(item, WatchFrame):
            assert decode_frame(item.raw) == item
            check_frame(item)
        else:
            assert item.raw and item.reason


@FUZZ
@given(
    st.lists(
        st.tuples(st.sampled_from(SEEDS), st.binary(max_size=20).filter(lambda b: b"[" not in b)),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.integers(0, 10_000), max_size=12),
)
def test_stream_recovers_every_frame_between_garbage(
    pairs: list[tuple[bytes, bytes]], cuts: list[int]
) -> None:
    # Garbage without '[' between valid frames never costs a frame, however reads are cut.
    data = b"".join(frame + garbage for frame, garbage in pairs)
    out = feed_in_chunks(WatchStream(), data, cuts)
    frames = [item for item in out if isinstance(item, WatchFrame)]
    assert frames == [decode_frame(frame) for frame, _ in pairs]
    rejected = b"".join(item.raw for item in out if isinstance(item, Rejected))
    assert rejected == b"".join(garbage for _, garbage in pairs)


manufacturers = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    min_size=2,
    max_size=2,
)
device_ids = st.text(alphabet="0123456789", min_size=10, max_size=15)
indexes = st.none() | st.text(alphabet="0123456789ABCDEFabcdef", min_size=4, max_size=4)


@FUZZ
@given(manufacturers, device_ids, indexes, st.binary(max_size=300) | st.text(max_size=100))
def test_encode_decode_round_trip(
    manufacturer: str, device_id: str, index: str | None, content: bytes | str
) -> None:
    try:
        raw = encode_frame(manufacturer, device_id, content, index)
    except ValueError:
        # Only content that would be read back as an INDEX is refused.
        body = content.encode() if isinstance(content, str) else content
        assert index is None and len(body) >= 5 and body[4:5] == b"*"
        return
    body = content.encode() if isinstance(content, str) else content
    frame = decode_frame(raw)
    assert (frame.manufacturer, frame.device_id, frame.index) == (manufacturer, device_id, index)
    assert frame.content == body
    assert frame.raw == raw
    text = frame.content_type + "".join("," + f for f in frame.fields)
    assert text.encode("utf-8", "surrogatepass") == body or text.encode("latin-1") == body
    assert WatchStream().feed(raw) == [frame]
