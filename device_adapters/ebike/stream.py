"""Reassembly of e-bike pile frames from a byte stream (sans-I/O: the caller does the reads).

A connection opens with the DTU's registration packet (the pile's id in ASCII, see the
package docstring), then carries frames. The registration ends at an optional CRLF or where
the first frame begins. Because the pile's SOP 0x66 is the ASCII letter 'f', which ids may
contain, "where the first frame begins" is decided like this, first match wins:

1. the id characters are followed by CRLF (or, at end of stream, by CR): that ends it;
2. a complete, checksum-valid frame starts at the last or second-to-last id character
   (an 0x66 SOP whose LEN byte is not, or is, an id character; every known CMD byte is
   not), 4 to 32 characters in; while such a frame is still incomplete, we wait;
3. the last id character is an 0x66 followed by a LEN of at least 8 and a known CMD: a
   damaged first frame starts there, and the id ends before it;
4. at end of stream, all the id characters are the id.

Id characters followed by anything else are not a registration (``"pile 01"`` is not the
id ``"pile"``): better no id, and loud dead letters, than a wrong one.

An id is recognized at the start of the connection, or right after a checksum-valid frame
that arrived before any registration; never inside bytes already rejected, so frame
bytes that happen to be ASCII cannot be taken for an id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from device_adapters.base import Rejected
from device_adapters.ebike.codec import (
    GATEWAY_SOP,
    MAX_FRAME_BYTES,
    MAX_PILE_ID_LEN,
    MIN_LEN,
    MIN_PILE_ID_LEN,
    NEED_MORE,
    PILE_ID_CHARS,
    PILE_ID_RE,
    PILE_SOP,
    Command,
    EbikeFrame,
    FrameError,
    Registration,
    _NeedMore,
    build_frame,
    scan_frame,
)

# Between feeds the stream holds at most a registration id and one incomplete frame.
MAX_BUFFER_BYTES: Final = MAX_PILE_ID_LEN + MAX_FRAME_BYTES

OUTSIDE_FRAME: Final = "bytes outside a frame"
NOT_A_REGISTRATION: Final = (
    "expected a DTU registration packet ([A-Za-z0-9_-]{4,32}) before the first frame"
)
NO_REGISTRATION: Final = "no DTU registration packet on this connection yet"
INCOMPLETE_AT_CLOSE: Final = "incomplete frame at end of stream"

_CR: Final = 0x0D
# Id characters worth counting: 32 of the id, the SOP 'f' and a LEN that is an id character.
_RUN_CAP: Final = MAX_PILE_ID_LEN + 3
_KNOWN_CMDS: Final = frozenset(Command)
_LF: Final = 0x0A

StreamItem = EbikeFrame | Registration | Rejected


@dataclass(frozen=True, slots=True)
class _RegMatch:
    id_len: int
    consumed: int


def match_registration(
    buf: bytes | bytearray, pos: int, sop: int, *, final: bool
) -> _RegMatch | _NeedMore | None:
    """A registration packet at ``buf[pos]`` (rules in the module docstring), NEED_MORE
    while undecided, or None when the bytes there are not one."""
    n = len(buf)
    k = 0  # leading id characters, counted up to _RUN_CAP (then "too long" in any case)
    while pos + k < n and k < _RUN_CAP and buf[pos + k] in PILE_ID_CHARS:
        k += 1
    at_end = pos + k == n

    # 1. CRLF ends it.
    if MIN_PILE_ID_LEN <= k <= MAX_PILE_ID_LEN and not at_end and buf[pos + k] == _CR:
        if pos + k + 1 == n:
            return _RegMatch(k, k + 1) if final else NEED_MORE
        if buf[pos + k + 1] == _LF:
            return _RegMatch(k, k + 2)

    # 2. A valid frame starts where the id characters end: its SOP is the last of them (or,
    # when its LEN byte is an id character too, the second to last); a SOP that is not an
    # id character (0xEE) comes right after them.
    if k < _RUN_CAP and not (at_end and not final):
        for i in (pos + k, pos + k - 1, pos + k - 2):
            if not MIN_PILE_ID_LEN <= i - pos <= MAX_PILE_ID_LEN or i >= n or buf[i] != sop:
                continue
            end = scan_frame(buf, i)
            if isinstance(end, _NeedMore):
                if final:
                    continue
                return NEED_MORE
            if isinstance(end, int):
                return _RegMatch(i - pos, i - pos)

    # 3. A damaged frame starts where the id characters end: its SOP, a LEN of at least 8
    # and a known CMD are there, though the frame is bad. Anything else is not a
    # registration: better no id than a wrong one.
    if not at_end and k < _RUN_CAP:
        for i in (pos + k, pos + k - 1):
            if not MIN_PILE_ID_LEN <= i - pos <= MAX_PILE_ID_LEN or buf[i] != sop:
                continue
            if i + 2 >= n:
                if final:
                    continue
                return NEED_MORE
            if buf[i + 1] >= MIN_LEN and buf[i + 2] in _KNOWN_CMDS:
                return _RegMatch(i - pos, i - pos)
        return None
    # 4. They reach the end of what has arrived.
    if not final:
        return NEED_MORE
    return _RegMatch(k, k) if MIN_PILE_ID_LEN <= k <= MAX_PILE_ID_LEN else None


class EbikeStream:
    """Buffers a byte stream: a registration, then frames; one read may hold several frames,
    one frame may be split over reads.

    Every byte fed comes back exactly once, inside a :class:`Registration`, an
    :class:`EbikeFrame` or a :class:`Rejected`, or stays buffered (at most
    ``MAX_BUFFER_BYTES``) until more arrive. After a bad LEN or checksum the stream resyncs
    on the next SOP byte. Never raises for any bytes.

    ``sop`` is the direction to read (0x66: what a pile sends; 0xEE: what a gateway sends).
    With ``pile_id`` given the connection is taken as identified already and no registration
    packet is expected (a pile simulator reading its gateway's frames, or a pile identified
    by other means).
    """

    def __init__(self, *, sop: int = PILE_SOP, pile_id: str | None = None) -> None:
        if sop not in (PILE_SOP, GATEWAY_SOP):
            raise ValueError(f"sop must be 0x66 or 0xEE, not {sop:#x}")
        if pile_id is not None and not PILE_ID_RE.fullmatch(pile_id):
            raise ValueError(f"pile id must match {PILE_ID_RE.pattern}: {pile_id!r}")
        self._sop = sop
        self._pile_id = pile_id
        # A registration is recognized only here: at the start, or after a clean frame.
        self._at_boundary = True
        self._buf = bytearray()

    @property
    def pile_id(self) -> str | None:
        """The pile's id once the registration packet has arrived."""
        return self._pile_id

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a registration or frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[StreamItem]:
        """Add received bytes; return registrations, frames and rejected bytes, in order."""
        out: list[StreamItem] = []
        view = memoryview(data).cast("B")
        # Big reads go in slices so the buffer never holds much more than its bound.
        for offset in range(0, len(view), MAX_FRAME_BYTES):
            self._buf += view[offset : offset + MAX_FRAME_BYTES]
            self._drain(out)
        return out

    def flush(self) -> list[StreamItem]:
        """The connection closed: return what the buffered bytes still hold, and empty it.

        A registration without CRLF and not yet followed by a frame is complete now; an
        incomplete frame is Rejected (and the bytes after its SOP are scanned again).
        """
        out: list[StreamItem] = []
        self._drain(out, final=True)
        if self._buf:  # cannot happen: a final drain decides everything; keeps the contract
            out.append(Rejected(bytes(self._buf), INCOMPLETE_AT_CLOSE))
            self._buf.clear()
        return out

    def _drain(self, out: list[StreamItem], *, final: bool = False) -> None:
        buf = self._buf
        n = len(buf)
        pos = 0
        while pos < n:
            if self._pile_id is None and self._at_boundary:
                reg = match_registration(buf, pos, self._sop, final=final)
                if isinstance(reg, _NeedMore):
                    break
                if reg is not None:
                    raw = bytes(buf[pos : pos + reg.consumed])
                    self._pile_id = raw[: reg.id_len].decode("ascii")
                    out.append(Registration(self._pile_id, raw))
                    pos += reg.consumed
                    continue
            if buf[pos] != self._sop:
                expected_registration = self._pile_id is None and self._at_boundary
                pos = self._skip(out, pos, NOT_A_REGISTRATION if expected_registration else None)
                continue
            end = scan_frame(buf, pos)
            if isinstance(end, _NeedMore):
                if not final:
                    break
                end = FrameError(INCOMPLETE_AT_CLOSE)
            if isinstance(end, FrameError):
                pos = self._skip(out, pos, end.reason)
                continue
            raw = bytes(buf[pos:end])
            if self._pile_id is None:
                out.append(Rejected(raw, NO_REGISTRATION))
                self._at_boundary = True
            else:
                out.append(build_frame(raw, self._pile_id))
            pos = end
        del buf[:pos]

    def _skip(self, out: list[StreamItem], pos: int, reason: str | None) -> int:
        """Reject from ``pos`` up to the next SOP (or all buffered bytes); return that offset.

        ``reason`` None means bytes outside a frame; runs of those are merged into one
        Rejected, however reads cut them.
        """
        nxt = self._buf.find(self._sop, pos + 1)
        stop = len(self._buf) if nxt < 0 else nxt
        raw = bytes(self._buf[pos:stop])
        self._at_boundary = False
        if reason is None:
            if out and isinstance(out[-1], Rejected) and out[-1].reason == OUTSIDE_FRAME:
                out[-1] = Rejected(out[-1].raw + raw, OUTSIDE_FRAME)
            else:
                out.append(Rejected(raw, OUTSIDE_FRAME))
        else:
            out.append(Rejected(raw, reason))
        return stop
