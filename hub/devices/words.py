"""Devices as a person reads them: reachable or not, low battery, an alert's severity,
in the reader's language (a charging port's state: hub.chargers.words; an event kind's
words: hub.alerts.words, the one vocabulary of kinds in words).

The API keeps its codes (``online``, ``severity``); these labels go next to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from device_adapters.model import Severity
from hub.devices.health import LOW_BATTERY_PCT
from hub.i18n.catalogs import NP_, Label, label, pgettext

# Reasons the hub gives a device it cannot know about (hub.alerts.gateways): its
# gateway is (or was just) offline. Such a device is unknown, not "not reported yet".
UNKNOWN_REASONS: Final = frozenset({"gateway_offline", "gateway_back"})


def online_label(online: bool | None, tag: str, reason: str | None = None) -> str:
    """在线 / 离线, 状态未知 when its gateway is offline, or 未上报 when the edge has not
    said yet."""
    if online is None and reason in UNKNOWN_REASONS:
        return pgettext(tag, "device", "Unknown")
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


SEVERITY_WORDS: Final[Mapping[str, Label]] = {
    Severity.CRITICAL: NP_("severity", "Critical"),
    Severity.HIGH: NP_("severity", "High"),
    Severity.MEDIUM: NP_("severity", "Medium"),
    Severity.LOW: NP_("severity", "Low"),
    Severity.INFORMATIONAL: NP_("severity", "Information"),
}


def severity_label(severity: Severity | str, tag: str) -> str:
    return label(SEVERITY_WORDS, severity, tag)
