"""What the wristband commands carry, checked once for both watch protocols (sans-I/O).

The kinds: ``wristband.locate`` (report a position now), ``wristband.call`` (the watch
calls ``phone``), ``wristband.monitor`` (the watch calls ``phone`` silently, so the
responder listens in; Watch protocol only) and ``wristband.message`` (show ``text``).

Both protocols carry a message as UTF-16BE in hex digits (志愿者已出发 ->
``5FD7613F80055DF251FA53D1``), so any Chinese text fits the ASCII frame and no comma,
``]`` or ``#`` in it can break the frame. A watch shows a short line: a message is at
most :data:`MAX_MESSAGE_UNITS` UTF-16 code units (characters, for Chinese text).
"""

from __future__ import annotations

import re
from typing import Final

from device_adapters.commands import CommandRefused, text_param
from device_adapters.model import DeviceCommand

LOCATE: Final = "wristband.locate"
CALL: Final = "wristband.call"
MONITOR: Final = "wristband.monitor"
MESSAGE: Final = "wristband.message"

# Small screens: vendor apps keep messages to a line or two. Counted in UTF-16 code
# units, as the watch receives them (an emoji outside the BMP counts twice).
MAX_MESSAGE_UNITS: Final = 60
# A number the watch can dial: digits, an optional leading '+', 3 (110) to 20 digits.
PHONE_RE: Final = re.compile(r"\+?[0-9]{3,20}")


def phone_param(command: DeviceCommand) -> str:
    phone = text_param(command, "phone").strip()
    if not PHONE_RE.fullmatch(phone):
        raise CommandRefused("params.phone must be a phone number: 3 to 20 digits, '+' first")
    return phone


def message_units(text: str) -> int:
    return len(text.encode("utf-16-be")) // 2


def message_hex(command: DeviceCommand) -> str:
    """The message text as the watches take it: UTF-16BE, upper-case hex digits."""
    text = text_param(command, "text").strip()
    if not text:
        raise CommandRefused("params.text must not be empty")
    if message_units(text) > MAX_MESSAGE_UNITS:
        raise CommandRefused(f"params.text is longer than {MAX_MESSAGE_UNITS} characters")
    return text.encode("utf-16-be").hex().upper()
