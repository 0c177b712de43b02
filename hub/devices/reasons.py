"""Why a device is reachable or not, in words a person reads next to the edge's code.

The edge reports each device's availability with a reason code (edge/availability.py:
``connected``, ``heartbeat_timeout`` ...); the API keeps the code for machines and
gives ``availability_reason_label`` in the reader's language. A code this hub does not
know (a newer edge's) is shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from hub.i18n.catalogs import NP_, Label, label

REASON_WORDS: Final[Mapping[str, Label]] = {
    "connected": NP_("availability reason", "connected"),
    "disconnected": NP_("availability reason", "disconnected"),
    "heartbeat_timeout": NP_("availability reason", "no heartbeat in time"),
    "bridge_online": NP_("availability reason", "online, as the Zigbee bridge says"),
    "bridge_offline": NP_("availability reason", "offline, as the Zigbee bridge says"),
    "reported": NP_("availability reason", "heard from"),
    # Set by the hub, not the edge: the gateway a device is reached through went offline
    # (hub.alerts.gateways), and is back but the device has not reported since.
    "gateway_offline": NP_("availability reason", "gateway offline, state unknown"),
    "gateway_back": NP_("availability reason", "gateway back, waiting for the device to report"),
}


def reason_label(reason: str | None, tag: str) -> str | None:
    """``heartbeat_timeout`` → 心跳超时 / no heartbeat in time; None when none was given."""
    return None if reason is None else label(REASON_WORDS, reason, tag)
