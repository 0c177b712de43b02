"""Reassembly of Watch frames from a TCP byte stream (sans-I/O: the caller does the reads)."""

from __future__ import annotations

from typing import Final

from device_adapters.base import Rejected
from device_adapters.watch.codec import (
    FRAME_TOO_LARGE,
    MAX_FRAME_BYTES,
    MAX_HEADER_BYTES,
    Header,
    HeaderError,
    WatchFrame,
    build_frame,
    find_frame_end,
    parse_header,
)

_LBRACKET: Final = ord("[")

# The smallest buffer that can hold any header plus an empty content and ']'.
MIN_BUFFER_BYTES: Final = MAX_HEADER_BYTES + 1

OUTSIDE_FRAME: Final = "bytes outside a frame"
INCOMPLETE_AT_CLOSE: Final = "incomplete frame at end of stream"


class WatchStream:
    """Buffers a TCP byte stream; several frames can come in one read, one frame can be split.

    Every byte fed comes back exactly once, inside a :class:`WatchFrame` or a
    :class:`Rejected`, or stays buffered (at most ``max_buffer`` bytes) until more arrive.
    After anything invalid the stream resyncs on the next '[' (content is binary-safe, but
    a LEN we cannot trust cannot tell us where the next frame starts).
    """

    def __init__(self, max_buffer: int = MAX_FRAME_BYTES) -> None:
        if max_buffer < MIN_BUFFER_BYTES:
            raise ValueError(f"max_buffer must be at least {MIN_BUFFER_BYTES} bytes")
        self.max_buffer = max_buffer
        self._buf = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[WatchFrame | Rejected]:
        """Add received bytes; return the frames completed and the bytes rejected, in order.

        Never raises for any bytes.
        """
        out: list[WatchFrame | Rejected] = []
        view = memoryview(data).cast("B")
        # Take big reads in slices so the buffer never holds much more than max_buffer.
        for offset in range(0, len(view), self.max_buffer):
            self._buf += view[offset : offset + self.max_buffer]
            self._drain(out)
        return out

    def flush(self) -> list[WatchFrame | Rejected]:
        """The connection closed: return what the buffered bytes still hold, and empty it.

        A frame whose LEN overstates its content is only complete now; anything else left
        is Rejected.
        """
        out: list[WatchFrame | Rejected] = []
        self._drain(out, final=True)
        if self._buf:
            out.append(Rejected(bytes(self._buf), INCOMPLETE_AT_CLOSE))
            self._buf.clear()
        return out

    def _drain(self, out: list[WatchFrame | Rejected], *, final: bool = False) -> None:
        buf = self._buf
        n = len(buf)
        pos = 0
        while pos < n:
            if buf[pos] != _LBRACKET:
                nxt = buf.find(b"[", pos)
                stop = n if nxt < 0 else nxt
                self._reject(out, bytes(buf[pos:stop]), OUTSIDE_FRAME)
                pos = stop
                continue
            header = parse_header(buf, pos)
            if isinstance(header, HeaderError):
                pos = self._skip_to_next_frame(out, pos, header.reason)
                continue
            if not isinstance(header, Header):
                break  # header split over reads: wait
            if header.frame_end() - pos > self.max_buffer:
                pos = self._skip_to_next_frame(out, pos, FRAME_TOO_LARGE)
                continue
            end = find_frame_end(buf, header, final=final)
            if isinstance(end, HeaderError):
                pos = self._skip_to_next_frame(out, pos, end.reason)
                continue
            if not isinstance(end, int) or end - pos > self.max_buffer:
                if n - pos >= self.max_buffer:  # LEN was wrong and no ']' in sight
                    pos = self._skip_to_next_frame(out, pos, FRAME_TOO_LARGE)
                    continue
                break  # content split over reads: wait
            out.append(build_frame(bytes(buf[pos:end]), header, pos))
            pos = end
        del buf[:pos]

    def _skip_to_next_frame(self, out: list[WatchFrame | Rejected], pos: int, reason: str) -> int:
        """Reject from the bad '[' at ``pos`` up to the next '[' (or all buffered bytes)."""
        nxt = self._buf.find(b"[", pos + 1)
        stop = len(self._buf) if nxt < 0 else nxt
        self._reject(out, bytes(self._buf[pos:stop]), reason)
        return stop

    @staticmethod
    def _reject(out: list[WatchFrame | Rejected], raw: bytes, reason: str) -> None:
        # Garbage cut by read boundaries is reported as one run, not one item per read.
        if reason == OUTSIDE_FRAME and out:
            last = out[-1]
            if isinstance(last, Rejected) and last.reason == OUTSIDE_FRAME:
                out[-1] = Rejected(last.raw + raw, OUTSIDE_FRAME)
                return
        out.append(Rejected(raw, reason))
