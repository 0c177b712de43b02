"""Devices as a person reads them: reachable or not, low battery, a charging port's
state and an event's kind, in the reader's language.

The API keeps its codes (``online``, ``availability``, ``kind``); these labels go next to
them. Event kinds have one vocabulary, device_adapters.kinds: each kind's description
there is the message id (scripts/i18n extracts the ``KindInfo`` descriptions), so a
kind is worded once for alarms, reports and pages alike.
"""

from __future__ import annotations

from device_adapters.kinds import KINDS
from device_adapters.model import Severity
from hub.devices.health import LOW_BATTERY_PCT
from hub.i18n.catalogs import gettext, pgettext


def online_label(online: bool | None, tag: str) -> str:
    """在线 / 离线, or 未上报 when the edge has not said yet."""
    if online is None:
        return pgettext(tag, "device", "Not reported yet")
    if online:
        return pgettext(tag, "device", "Online")
    return pgettext(tag, "device", "Offline")


def battery_label(battery_pct: int | None, tag: str) -> str | None:
    """低电量 when the battery is below the low mark (None otherwise)."""
    if battery_pct is None or battery_pct >= LOW_BATTERY_PCT:
        return None
    return low_battery_label(tag)


def low_battery_label(tag: str) -> str:
    return pgettext(tag, "device", "Low battery")


def kind_label(kind: str, tag: str) -> str:
    """An event kind as words (door.held_open: 门长时间未关); an unknown kind as its code."""
    info = KINDS.get(kind)
    return gettext(tag, info.description) if info is not None else kind


def severity_label(severity: Severity | str, tag: str) -> str:
    S = Severity
    words: dict[str, str] = {
        S.CRITICAL: pgettext(tag, "severity", "Critical"),
        S.HIGH: pgettext(tag, "severity", "High"),
        S.MEDIUM: pgettext(tag, "severity", "Medium"),
        S.LOW: pgettext(tag, "severity", "Low"),
        S.INFORMATIONAL: pgettext(tag, "severity", "Information"),
    }
    return words.get(severity, str(severity))
