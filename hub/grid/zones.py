"""A community's time zone, read so that a bad stored name never stops an alarm."""

from __future__ import annotations

import logging
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

# The zone of the communities this product serves, and the column's default.
DEFAULT_ZONE = "Asia/Shanghai"


@lru_cache(maxsize=256)
def community_zone(name: str | None) -> ZoneInfo:
    """``name`` as a zone; an unknown or empty one falls back to the default, logged once.

    A community saved with a zone this machine does not know must still get its
    SOS routed to the volunteer on duty: the rota is then read in China's time.
    """
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            log.error("unknown community time zone %r; using %s", name, DEFAULT_ZONE)
    return ZoneInfo(DEFAULT_ZONE)
