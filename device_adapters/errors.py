"""Errors raised by codecs. A codec raises nothing else for bad input."""

from __future__ import annotations


class DecodeError(ValueError):
    """Bytes that are not a valid frame of the protocol, with the reason and the bytes."""

    def __init__(self, reason: str, raw: bytes = b"") -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw
