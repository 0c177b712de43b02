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

from hub.i18n.catalogs import N_
from hub.i18n.locales import choose
from hub.i18n.said import every_language
from hub.i18n.times import local_date
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
    found = (
        await conn.execute(
            sa.select(communities.c.locale, communities.c.timezone).where(
                communities.c.id == community_id
            )
        )
    ).first()
    language = choose(profile=None, accept_language=None, community=found.locale if found else None)
    if payload["period"] == "daily":
        day = date.fromisoformat(str(payload["date"]))
        tz = zone(found.timezone if found else "Asia/Shanghai")
        noon = datetime.combine(day, time(12), tz)
        period: object = lambda tag: local_date(noon, tz, tag)  # noqa: E731
        kind = "report.daily_digest"
        title_id = N_("Daily digest for %(period)s")
        path = f"/api/v1/reports/daily?community_id={community_id}&date={day.isoformat()}"
    else:
        period = str(payload["week"])
        kind = "report.weekly_bulletin"
        title_id = N_("Weekly bulletin for %(period)s")
        path = f"/api/v1/reports/weekly?community_id={community_id}&week={payload['week']}"
    titles = every_language(title_id, period=period)
    bodies = every_language(N_("%(period)s: read it at %(path)s"), period=period, path=path)
    await arm_report_timers(conn, now)  # the next one
    return f"{kind} announced", [
        Notification(
            kind=kind,
            title=titles[language],
            titles=titles,
            bodies=bodies,
            recipients=Recipients(
                roles=(Role.COMMUNITY_STAFF, Role.PROPERTY_MANAGER), community_id=community_id
            ),
        )
    ]
