"""Build a community's daily digest or weekly bulletin: load the rows, compute, render."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import NotFound
from hub.i18n.catalogs import N_
from hub.reports import data
from hub.reports.bulletin import weekly_bulletin
from hub.reports.digest import daily_digest
from hub.reports.false_alarms import false_alarms, load_disposed
from hub.reports.models import CommunityRef, DailyDigest, WeeklyBulletin
from hub.reports.periods import (
    BadReportInput,
    Period,
    day_period,
    today_in,
    week_period,
    zone,
)


class CommunityNotFound(NotFound):
    """No such community (404, said in the reader's language)."""

    def __init__(self, community_id: int) -> None:
        super().__init__(N_("no community %(id)s"), id=community_id)
        self.community_id = community_id


async def _community(conn: AsyncConnection, community_id: int) -> CommunityRef:
    community = await data.load_community(conn, community_id)
    if community is None:
        raise CommunityNotFound(community_id)
    return community


def _not_in_future(period: Period, now: datetime, field: str) -> None:
    if period.start > now:
        today = today_in(period.tz, now)
        raise BadReportInput(
            field,
            N_(
                "%(period)s has not begun yet in %(zone)s (today there is %(today)s, "
                "ISO week %(week)s)"
            ),
            period=period.label,
            zone=period.tz.key,
            today=today.isoformat(),
            week=f"{today.isocalendar().year}-W{today.isocalendar().week:02d}",
        )


async def build_daily(
    conn: AsyncConnection,
    community_id: int,
    day: date | None,
    now: datetime,
    *,
    property_only: bool = False,
) -> DailyDigest:
    """The digest of a local date (default: today so far, in the community's zone);
    ``property_only`` for a property manager: no elderly care, no duress."""
    community = await _community(conn, community_id)
    tz = zone(community.timezone)
    period = day_period(day or today_in(tz, now), tz)
    _not_in_future(period, now, "date")
    alerts = await data.load_alerts(
        conn, community_id, period.start, period.end, property_only=property_only
    )
    tickets = await data.load_tickets(
        conn, community_id, period.start, period.end, property_only=property_only
    )
    disposed = await load_disposed(
        conn, community_id, period.start, period.end, property_only=property_only
    )
    return daily_digest(community, period, alerts, tickets, now, false_alarms(disposed))


async def build_weekly(
    conn: AsyncConnection,
    community_id: int,
    week: tuple[int, int] | None,
    now: datetime,
    *,
    property_only: bool = False,
) -> WeeklyBulletin:
    """The bulletin of an ISO week (default: this week so far, in the community's zone);
    ``property_only`` for a property manager: no elderly care, no duress."""
    community = await _community(conn, community_id)
    tz = zone(community.timezone)
    if week is None:
        iso = today_in(tz, now).isocalendar()
        week = (iso.year, iso.week)
    period = week_period(*week, tz)
    _not_in_future(period, now, "week")
    alerts = await data.load_alerts(
        conn, community_id, period.start, period.end, property_only=property_only
    )
    tickets = await data.load_tickets(
        conn, community_id, period.start, period.end, property_only=property_only
    )
    grids = await data.load_grids(conn, community_id)
    points = await data.load_points(conn, community_id, period.start, period.end)
    disposed = await load_disposed(
        conn, community_id, period.start, period.end, property_only=property_only
    )
    return weekly_bulletin(
        community, period, alerts, tickets, grids, points, now, false_alarms(disposed)
    )
