"""Reassembly of IW frames from a TCP byte stream, and the connection's login (sans-I/O)."""

from __future__ import annotations

from typing import Final

from device_adapters.base import Rejected
from device_adapters.iw.codec import (
    END,
    FRAME_TOO_LARGE,
    LOGIN,
    MAX_FRAME_BYTES,
    MIN_FRAME_BYTES,
    START,
    TRUNCATED,
    IwDecodeError,
    IwFrame,
    decode_frame,
)

OUTSIDE_FRAME: Final = "bytes outside a frame"
INCOMPLETE_AT_CLOSE: Final = "incomplete frame at end of stream"


def _partial_start(buf: bytearray, pos: int) -> int:
    """How many bytes at the end of ``buf[pos:]`` could begin an 'IWAP' still to come."""
    for keep in range(min(len(START) - 1, len(buf) - pos), 0, -1):
        if buf.endswith(START[:keep]):
            return keep
    return 0


class IwStream:
    """One connection's byte stream: frames end with '#', several may come in one read.

    Only the login frame (``IWAP00``) carries the IMEI: the stream remembers it and
    stamps it on every later frame (a new login replaces it). Frames before any login
    come back as :class:`Rejected` (``codec.NO_LOGIN``), as do frames that fail to decode.

    Every byte fed comes back exactly once, inside an :class:`IwFrame` or a
    :class:`Rejected`, or stays buffered (never more than ``max_frame`` bytes between
    calls). A frame with no '#' within ``max_frame`` bytes is rejected, and after anything
    invalid the stream resyncs on the next ``IWAP``. ``feed`` and ``flush`` never raise.
    """

    def __init__(self, max_frame: int = MAX_FRAME_BYTES) -> None:
        if not MIN_FRAME_BYTES <= max_frame <= MAX_FRAME_BYTES:
            raise ValueError(f"max_frame must be {MIN_FRAME_BYTES}..{MAX_FRAME_BYTES} bytes")
        self.max_frame = max_frame
        self.imei: str | None = None
        self._buf = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[IwFrame | Rejected]:
        """Add received bytes; return the frames completed and the bytes rejected, in order."""
        out: list[IwFrame | Rejected] = []
        view = memoryview(data).cast("B")
        # Take big reads in slices so the buffer never holds much more than max_frame.
        for offset in range(0, len(view), self.max_frame):
            self._buf += view[offset : offset + self.max_frame]
            self._drain(out)
        return out

    def flush(self) -> list[IwFrame | Rejected]:
        """The connection closed: reject what is still buffered, and empty the buffer."""
        out: list[IwFrame | Rejected] = []
        self._drain(out, final=True)
        return out

    def _drain(self, out: list[IwFrame | Rejected], *, final: bool = False) -> None:
        buf = self._buf
        n = len(buf)
        pos = 0
        while pos < n:
            if not buf.startswith(START, pos):
                nxt = buf.find(START, pos)
                if nxt < 0:
                    # Keep what may be the start of an 'IWAP' split over reads.
                    nxt = n if final else n - _partial_start(buf, pos)
                    if nxt == pos:
                        break
                self._reject(out, bytes(buf[pos:nxt]), OUTSIDE_FRAME)
                pos = nxt
                continue
            end = buf.find(END, pos + len(START))
            nxt = buf.find(START, pos + 1)
            if nxt >= 0 and (end < 0 or nxt < end):
                self._reject(out, bytes(buf[pos:nxt]), TRUNCATED)
                pos = nxt
                continue
            if end >= 0:
                stop = end + 1
                if stop - pos > self.max_frame:  # only when one read held all of it
                    self._reject(out, bytes(buf[pos:stop]), FRAME_TOO_LARGE)
                else:
                    self._frame(out, bytes(buf[pos:stop]))
                pos = stop
                continue
            if n - pos >= self.max_frame:
                # No '#' in max_frame bytes: reject them; the rest of this frame, when it
                # comes, is outside a frame up to the next 'IWAP'.
                stop = n - _partial_start(buf, pos + 1)
                self._reject(out, bytes(buf[pos:stop]), FRAME_TOO_LARGE)
                pos = stop
                continue
            if final:
                self._reject(out, bytes(buf[pos:n]), INCOMPLETE_AT_CLOSE)
                pos = n
            break  # frame split over reads: wait
        del buf[:pos]

    def _frame(self, out: list[IwFrame | Rejected], raw: bytes) -> None:
        try:
            frame = decode_frame(raw, self.imei)
        except IwDecodeError as exc:
            out.append(Rejected(raw, exc.reason))
            return
        if frame.frame_type == LOGIN:
            self.imei = frame.imei
        out.append(frame)

    @staticmethod
    def _reject(out: list[IwFrame | Rejected], raw: bytes, reason: str) -> None:
        # Garbage cut by read boundaries is reported as one run, not one item per read.
        if reason == OUTSIDE_FRAME and out:
            last = out[-1]
            if isinstance(last, Rejected) and last.reason == OUTSIDE_FRAME:
                out[-1] = Rejected(last.raw + raw, OUTSIDE_FRAME)
                return
        out.append(Rejected(raw, reason))
