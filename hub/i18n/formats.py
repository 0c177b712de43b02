"""Numbers and addresses laid out for reading."""

from __future__ import annotations

import re
from collections.abc import Iterable

_DIGITS = re.compile(r"\d+")
# A household's place in its building as a Chinese community writes it: 1单元101室.
_UNIT_AND_ROOM = re.compile(r"(\S+?单元)\s*(\S.*)")


def phone_for_reading(phone: str) -> str:
    """A phone number grouped as people read it aloud: ``139 2000 0000`` (mobile, 3-4-4),
    ``+86 139 2000 0000``, ``010 8888 6666`` / ``0755 8888 6666`` (landline, area code
    first). Anything else is returned as written: a number is never changed, only spaced.
    """
    raw = phone.strip()
    digits = "".join(_DIGITS.findall(raw))
    if not digits or len(digits) != len(re.sub(r"[\s\-()]", "", raw).lstrip("+")):
        return raw  # letters, extensions, odd punctuation: leave it as the community wrote it
    prefix = ""
    if raw.startswith("+86") or (digits.startswith("86") and len(digits) == 13):
        prefix, digits = "+86 ", digits[2:]
    if len(digits) == 11 and digits.startswith("1"):
        return f"{prefix}{digits[:3]} {digits[3:7]} {digits[7:]}"
    if not prefix and digits.startswith("0") and len(digits) in (11, 12):
        area = 3 if digits[1] in "12" else 4  # 010, 02x: three digits; others four
        local = digits[area:]
        half = len(local) - 4
        return f"{digits[:area]} {local[:half]} {local[half:]}"
    return raw


def address(parts: Iterable[str | None], *, separator: str = " · ") -> str:
    """An address from the largest place to the smallest (小区 · 楼栋 · 单元 · 室), the
    Chinese order, blank parts left out."""
    return separator.join(p.strip() for p in parts if p and p.strip())


def household_parts(unit: str) -> tuple[str, ...]:
    """A household's place in its building, as stored in one field (``1单元101室``), in
    the parts an address is read by (``1单元``, ``101室``); written any other way, one
    part as written."""
    found = _UNIT_AND_ROOM.fullmatch(unit.strip())
    return (found[1], found[2].strip()) if found else (unit,)
