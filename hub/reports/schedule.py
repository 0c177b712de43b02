"""Telling staff when the daily digest and the weekly bulletin are ready.

Every morning at ``DIGEST_HOUR`` (community local time) the staff and property
managers of each community get a ``report.daily_digest`` notification for the
day before, and on Mondays a ``report.weekly_bulletin`` for the week before,
each with the address of the page to read. Stored timers, like everything the
hub does later: one per community and period, so a restart neither skips nor
repeats one.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.notifications.base import Notification, Recipients
from hub.reports.periods import week_label, zone
from hub.schema.grid import communities
from hub.timers import service as timers
from hub.users.models import Role

TIMER_KIND = "report"
DIGEST_HOUR = 8


def _next_morning(now: datetime, tz_name: str) -> datetime:
    tz = zone(tz_name)
    local = now.astimezone(tz)
    morning = datetime.combine(local.date(), time(DIGEST_HOUR), tz)
    if morning <= local:
        morning = datetime.combine(local.date() + timedelta(days=1), time(DIGEST_HOUR), tz)
    return morning


async def arm_report_timers(conn: AsyncConnection, now: datetime) -> None:
    """Schedule each community's next digest and bulletin (idempotent)."""
    rows = await conn.execute(sa.select(communities.c.id, communities.c.timezone))
    for row in rows.all():
        morning = _next_morning(now, row.timezone)
        day = morning.date() - timedelta(days=1)
        await timers.schedule(
            conn,
            f"report:daily:{row.id}:{day.isoformat()}",
            TIMER_KIND,
            morning,
            {"community_id": row.id, "period": "daily", "date": day.isoformat()},
            now,
        )
        monday = morning + timedelta(days=(7 - morning.weekday()) % 7)
        year, week, _ = (monday.date() - timedelta(days=7)).isocalendar()
        label = week_label(year, week)
        await timers.schedule(
            conn,
            f"report:weekly:{row.id}:{label}",
            TIMER_KIND,
            monday,
            {"community_id": row.id, "period": "weekly", "week": label},
            now,
        )


async def on_timer(
    conn: AsyncConnection, payload: dict[str, Any], now: datetime
) -> tuple[str, list[Notification]]:
    community_id = int(payload["community_id"])
    if payload["period"] == "daily":
        day = date.fromisoformat(str(payload["date"]))
        kind, title = "report.daily_digest", f"Daily digest for {day.isoformat()}"
        path = f"/api/v1/reports/daily?community_id={community_id}&date={day.isoformat()}"
    else:
        kind, title = "report.weekly_bulletin", f"Weekly bulletin for {payload['week']}"
        path = f"/api/v1/reports/weekly?community_id={community_id}&week={payload['week']}"
    await arm_report_timers(conn, now)  # the next one
    return f"{kind} announced", [
        Notification(
            kind=kind,
            title=title,
            body=path,
            recipients=Recipients(
                roles=(Role.COMMUNITY_STAFF, Role.PROPERTY_MANAGER), community_id=community_id
            ),
        )
    ]
