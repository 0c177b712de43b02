"""Why a device is reachable or not, in words a person reads next to the edge's code.

The edge reports each device's availability with a reason code (edge/availability.py:
``connected``, ``heartbeat_timeout`` ...); the API keeps the code for machines and
gives ``availability_reason_label`` in the reader's language. A code this hub does not
know (a newer edge's) is shown as it is.
"""

from __future__ import annotations

from hub.i18n.catalogs import pgettext


def reason_label(reason: str | None, tag: str) -> str | None:
    """``heartbeat_timeout`` → 心跳超时 / no heartbeat in time; None when none was given."""
    if reason is None:
        return None
    words = {
        "connected": pgettext(tag, "availability reason", "connected"),
        "disconnected": pgettext(tag, "availability reason", "disconnected"),
        "heartbeat_timeout": pgettext(tag, "availability reason", "no heartbeat in time"),
        "bridge_online": pgettext(tag, "availability reason", "online, as the Zigbee bridge says"),
        "bridge_offline": pgettext(
            tag, "availability reason", "offline, as the Zigbee bridge says"
        ),
        "reported": pgettext(tag, "availability reason", "heard from"),
    }
    return words.get(reason, reason)
