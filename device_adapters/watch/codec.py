"""Framing of the "Watch" protocol: ``[MFR*ID*[INDEX*]LEN*CONTENT]`` (PROTOCOLS.md 1a).

Pure functions over bytes. The header grammar lives in :func:`parse_header`, shared by
:func:`decode_frame` (one complete frame) and :class:`~device_adapters.watch.stream.WatchStream`
(a TCP byte stream), so both agree on what a frame is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from device_adapters.errors import DecodeError

PROTOCOL: Final = "watch"

MAX_CONTENT_BYTES: Final = 0xFFFF  # LEN is 4 hex digits
# '[' MFR(2) '*' ID(15) '*' INDEX(4) '*' LEN(4) '*': the longest header, and also the most
# bytes ever needed to decide whether a header is valid (INDEX detection looks 5 bytes ahead).
MAX_HEADER_BYTES: Final = 1 + 2 + 1 + 15 + 1 + 4 + 1 + 4 + 1
MAX_FRAME_BYTES: Final = MAX_HEADER_BYTES + MAX_CONTENT_BYTES + 1  # + ']'

_LBRACKET: Final = ord("[")
_RBRACKET: Final = ord("]")
_STAR: Final = ord("*")
_DIGITS: Final = frozenset(b"0123456789")
_ALNUM: Final = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_HEX: Final = frozenset(b"0123456789ABCDEFabcdef")
_MIN_ID_DIGITS: Final = 10
_MAX_ID_DIGITS: Final = 15

MISSING_END: Final = "missing ']' after content"
FRAME_TOO_LARGE: Final = "frame too large"

_MFR_RE: Final = re.compile(r"[0-9A-Za-z]{2}")
_ID_RE: Final = re.compile(r"[0-9]{10,15}")
_HEX4_RE: Final = re.compile(r"[0-9A-Fa-f]{4}")
# Content that a reader would take for "INDEX*" (see parse_header): unencodable without INDEX.
_LOOKS_LIKE_INDEX_RE: Final = re.compile(rb"[0-9A-Fa-f]{4}\*")

# The server's answer to each content type that expects one (PROTOCOLS.md 1a). Devices
# resend LK/AL until answered, so AL variants of newer firmware get "AL" too.
_REPLIES: Final[dict[str, str]] = {
    "LK": "LK",
    "AL": "AL",
    "AL_LTE": "AL",
    "AL_WCDMA": "AL",
    "INIT": "INIT,1",
    "TKQ": "TKQ",
    "TKQ2": "TKQ2",
    # Each voice-message fragment is acknowledged, or the watch stops sending the rest
    # (not in PROTOCOLS.md; Traccar's WatchProtocolDecoder answers "JXTKR,1").
    "JXTK": "JXTKR,1",
}


class WatchDecodeError(DecodeError):
    """Bytes or content that are not valid Watch protocol."""


@dataclass(frozen=True, slots=True)
class WatchFrame:
    manufacturer: str
    device_id: str
    index: str | None
    content: bytes
    content_type: str
    fields: tuple[str, ...]
    raw: bytes


@dataclass(frozen=True, slots=True)
class Header:
    """A parsed header; offsets are absolute positions in the buffer that was parsed."""

    manufacturer: str
    device_id: str
    index: str | None
    content_start: int
    content_length: int

    def frame_end(self) -> int:
        """Offset just past the closing ']'."""
        return self.content_start + self.content_length + 1


@dataclass(frozen=True, slots=True)
class HeaderError:
    reason: str


class _NeedMore:
    """The header is a valid prefix so far, but more bytes are needed to decide."""


NEED_MORE: Final = _NeedMore()

_Buffer = bytes | bytearray


def _hex4_star(buf: _Buffer, pos: int) -> bool | _NeedMore:
    """Is there ``XXXX*`` (4 hex digits then '*') at ``pos``? Decides as early as it can."""
    end = len(buf)
    for i in range(4):
        if pos + i >= end:
            return NEED_MORE
        if buf[pos + i] not in _HEX:
            return False
    if pos + 4 >= end:
        return NEED_MORE
    return buf[pos + 4] == _STAR


def parse_header(buf: _Buffer, start: int = 0) -> Header | HeaderError | _NeedMore:
    """Parse the header of the frame whose '[' is at ``buf[start]``.

    Returns NEED_MORE only while the bytes so far are a valid prefix, so a stream waits
    for a split header but rejects a bad one at once.
    """
    end = len(buf)
    if start >= end:
        return NEED_MORE
    if buf[start] != _LBRACKET:
        return HeaderError("frame must start with '['")
    p = start + 1
    for _ in range(2):
        if p >= end:
            return NEED_MORE
        if buf[p] not in _ALNUM:
            return HeaderError("manufacturer must be 2 alphanumeric characters")
        p += 1
    if p >= end:
        return NEED_MORE
    if buf[p] != _STAR:
        return HeaderError("expected '*' after manufacturer")
    p += 1

    id_start = p
    while True:
        if p >= end:
            return NEED_MORE
        c = buf[p]
        if c == _STAR:
            break
        if c not in _DIGITS:
            return HeaderError("device id must be digits")
        p += 1
        if p - id_start > _MAX_ID_DIGITS:
            return HeaderError(f"device id longer than {_MAX_ID_DIGITS} digits")
    if p - id_start < _MIN_ID_DIGITS:
        return HeaderError(f"device id shorter than {_MIN_ID_DIGITS} digits")
    device_id = bytes(buf[id_start:p]).decode("ascii")
    p += 1

    first = _hex4_star(buf, p)
    if isinstance(first, _NeedMore):
        return NEED_MORE
    if not first:
        return HeaderError("LEN must be 4 hex digits followed by '*'")
    # Two 4-hex fields in a row mean INDEX then LEN (ZJ devices); one means LEN only.
    second = _hex4_star(buf, p + 5)
    if isinstance(second, _NeedMore):
        return NEED_MORE
    index: str | None = None
    if second:
        index = bytes(buf[p : p + 4]).decode("ascii")
        p += 5
    length = int(bytes(buf[p : p + 4]), 16)
    manufacturer = bytes(buf[start + 1 : start + 3]).decode("ascii")
    return Header(manufacturer, device_id, index, p + 5, length)


def _content_text(content: bytes) -> str:
    # Devices send ASCII, sometimes UTF-8 (Wi-Fi names); latin-1 never fails for the rest.
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("latin-1")


def build_frame(raw: bytes, header: Header, start: int = 0) -> WatchFrame:
    """Build a frame from ``raw`` (the whole frame) and its header parsed at offset ``start``.

    The content is everything between the header and the final ']' (see find_frame_end).
    """
    content = raw[header.content_start - start : -1]
    content_type, sep, rest = _content_text(content).partition(",")
    return WatchFrame(
        manufacturer=header.manufacturer,
        device_id=header.device_id,
        index=header.index,
        content=content,
        content_type=content_type,
        fields=tuple(rest.split(",")) if sep else (),
        raw=raw,
    )


def find_frame_end(
    buf: bytes | bytearray, header: Header, *, final: bool = False
) -> int | HeaderError | _NeedMore:
    """Offset just past the ']' of the frame whose header is given.

    LEN decides first, so content may hold any byte. Real devices also send LENs that
    disagree with their content (the *real* UD frame in PROTOCOLS.md says 0x87 for 143
    bytes); text content never holds a raw ']' (binary content escapes it), so then the
    first ']' ends the frame, unless a '[' comes first. ``final`` means no more bytes will
    come, so a LEN longer than the bytes present is not waited for.
    """
    exact = header.frame_end()
    n = len(buf)
    if n >= exact and buf[exact - 1] == _RBRACKET:
        return exact
    if n < exact and not final:
        return NEED_MORE
    start = header.content_start
    close = buf.find(b"]", start)
    opening = buf.find(b"[", start)
    if close < 0 and opening < 0:
        return HeaderError(MISSING_END) if final else NEED_MORE
    if close < 0 or 0 <= opening < close:
        return HeaderError(MISSING_END)
    if close - start > MAX_CONTENT_BYTES:
        return HeaderError(FRAME_TOO_LARGE)
    return close + 1


def decode_frame(raw: bytes) -> WatchFrame:
    """Decode exactly one complete frame; raises :class:`WatchDecodeError` and nothing else."""
    raw = bytes(raw)
    if not raw:
        raise WatchDecodeError("empty input", raw)
    header = parse_header(raw, 0)
    if isinstance(header, _NeedMore):
        raise WatchDecodeError("truncated frame header", raw)
    if isinstance(header, HeaderError):
        raise WatchDecodeError(header.reason, raw)
    end = find_frame_end(raw, header, final=True)
    if isinstance(end, HeaderError):
        raise WatchDecodeError(end.reason, raw)
    if isinstance(end, _NeedMore):  # cannot happen with final=True; keeps the contract
        raise WatchDecodeError(MISSING_END, raw)
    if len(raw) > end:
        raise WatchDecodeError("trailing bytes after ']'", raw)
    return build_frame(raw, header)


def encode_frame(
    manufacturer: str, device_id: str, content: bytes | str, index: str | None = None
) -> bytes:
    """Build one frame; LEN is the content length in bytes as 4 uppercase hex digits.

    ``str`` content is encoded as UTF-8. Raises ValueError for arguments no device could
    parse back, including content starting with ``XXXX*`` when there is no INDEX (a reader
    would take it for one).
    """
    if not _MFR_RE.fullmatch(manufacturer):
        raise ValueError(f"manufacturer must be 2 alphanumeric characters: {manufacturer!r}")
    if not _ID_RE.fullmatch(device_id):
        raise ValueError(f"device id must be 10 to 15 digits: {device_id!r}")
    if index is not None and not _HEX4_RE.fullmatch(index):
        raise ValueError(f"index must be 4 hex digits: {index!r}")
    body = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    if len(body) > MAX_CONTENT_BYTES:
        raise ValueError(f"content is {len(body)} bytes, at most {MAX_CONTENT_BYTES} fit LEN")
    if index is None and _LOOKS_LIKE_INDEX_RE.match(body):
        raise ValueError("content starting with 4 hex digits and '*' needs an index")
    head = f"[{manufacturer}*{device_id}*" + (f"{index}*" if index is not None else "")
    return head.encode("ascii") + f"{len(body):04X}*".encode("ascii") + body + b"]"


def reply_for(frame: WatchFrame) -> bytes | None:
    """The frame the server must send back, or None when the device expects nothing."""
    reply = _REPLIES.get(frame.content_type)
    if reply is None and frame.content_type.startswith("AL"):
        reply = "AL"  # vendor alarm variants (ALCUSTOMER1, ...) are resent until answered
    if reply is None:
        return None
    return encode_frame(frame.manufacturer, frame.device_id, reply, frame.index)
