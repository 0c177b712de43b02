"""Each person's say in how they are reached outside the open page: the channels that may
carry their notifications (SMS, phone notifications) and their quiet hours.

Kept in ``notification_preferences`` (hub/schema/notifications.py). The rule the
channels apply (:meth:`Preference.allows`): a critical alarm (an SOS, a fall, a fire)
reaches a person on every channel they have, whatever they chose, at any hour: nobody
can silence a life-safety alarm by a setting made months ago. Anything else follows
their choice: not on a channel they switched off, not in their quiet hours (in their
community's zone; 22:00-07:00 runs past midnight).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import Severity
from hub.grid.zones import community_zone
from hub.schema.grid import communities
from hub.schema.notifications import notification_preferences as preferences
from hub.schema.users import users
from hub.storage.upsert import upsert

# The channels a person may switch off (the group robots reach a chat, not a person).
CHOOSABLE = ("sms", "webpush")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def clock(text: str) -> time:
    """``"22:30"`` as a time of day; ValueError for anything else."""
    found = _CLOCK.match(text)
    if found is None:
        raise ValueError("not a time of day HH:MM")
    return time(int(found[1]), int(found[2]))


@dataclass(frozen=True)
class Preference:
    channels_off: frozenset[str] = field(default_factory=frozenset)
    quiet_start: time | None = None
    quiet_end: time | None = None
    zone: ZoneInfo = field(default_factory=lambda: community_zone(None))

    def quiet_at(self, at: datetime) -> bool:
        if self.quiet_start is None or self.quiet_end is None:
            return False
        now = at.astimezone(self.zone).time()
        start, end = self.quiet_start, self.quiet_end
        return start <= now < end if start <= end else (now >= start or now < end)

    def allows(self, channel: str, severity: Severity, at: datetime) -> bool:
        if severity is Severity.CRITICAL:
            return True
        return channel not in self.channels_off and not self.quiet_at(at)


async def preferences_of(conn: AsyncConnection, user_ids: Sequence[int]) -> dict[int, Preference]:
    """Each user's preference (the default for those who never chose), with their
    community's zone for the quiet hours."""
    if not user_ids:
        return {}
    rows = await conn.execute(
        sa.select(
            users.c.id,
            communities.c.timezone,
            preferences.c.channels_off,
            preferences.c.quiet_start,
            preferences.c.quiet_end,
        )
        .select_from(
            users.outerjoin(communities, communities.c.id == users.c.community_id).outerjoin(
                preferences, preferences.c.user_id == users.c.id
            )
        )
        .where(users.c.id.in_(list(user_ids)))
    )
    return {
        int(r.id): Preference(
            channels_off=frozenset(r.channels_off or ()),
            quiet_start=clock(r.quiet_start) if r.quiet_start else None,
            quiet_end=clock(r.quiet_end) if r.quiet_end else None,
            zone=community_zone(r.timezone),
        )
        for r in rows
    }


async def save(
    conn: AsyncConnection,
    user_id: int,
    channels_off: Sequence[str],
    quiet: tuple[str, str] | None,
    now: datetime,
) -> None:
    await upsert(
        conn,
        preferences,
        {
            "user_id": user_id,
            "channels_off": sorted(set(channels_off)),
            "quiet_start": quiet[0] if quiet else None,
            "quiet_end": quiet[1] if quiet else None,
            "updated_at": now,
        },
        ("user_id",),
    )
