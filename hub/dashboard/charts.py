"""The dashboard's two charts of the last 14 days, drawn by the hub's chart engine.

The figures are the dashboard's own (``alerts_per_day``, ``time_to_close``);
api/routes/dashboard.py serves each chart as ``image/svg+xml``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.access.scope import Scope
from hub.access.visibility import known_kinds, known_tickets
from hub.dashboard.models import DAYS, AlertsDay, TimeToClose
from hub.dashboard.service import alerts_per_day, day_bounds, time_to_close
from hub.pages.text import N_
from hub.reports.charts import (
    COMPACT,
    OTHER_COLOR,
    PALETTE,
    Reference,
    Series,
    bar_chart,
    color_for,
    tidy,
)

KEEP_KINDS = 7  # kinds drawn in their own colour; the rest are "other"
CHART_NAMES = ("alerts", "close")


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _window(tz: ZoneInfo, now: datetime) -> tuple[date, list[datetime]]:
    today = now.astimezone(tz).date()
    first = today - timedelta(days=DAYS - 1)
    return first, day_bounds(first, tz)


def _day(d: date) -> str:
    return d.isoformat()[5:]  # MM-DD


def draw_alerts(days: list[AlertsDay], kinds: list[str]) -> Markup:
    """Alerts opened per day, stacked by kind (the most frequent kinds first)."""
    kept, rest = kinds[:KEEP_KINDS], kinds[KEEP_KINDS:]
    series = [
        Series(kind, [d.by_kind.get(kind, 0) for d in days], color_for(i))
        for i, kind in enumerate(kept)
    ]
    if rest:
        series.append(
            Series(
                N_("other (%(n)s kinds)") % {"n": len(rest)},
                [sum(d.by_kind.get(k, 0) for k in rest) for d in days],
                OTHER_COLOR,
            )
        )
    total = sum(d.total for d in days)
    if total:
        busiest = max(days, key=lambda d: d.total)  # the first of the busiest days
        summary = (
            f"{plural(total, 'alert')} in {DAYS} days, {plural(len(kinds), 'kind')}; "
            f"most on {busiest.date} ({busiest.total})."
        )
    else:
        summary = f"No alerts in {DAYS} days."
    return bar_chart(
        N_("Alerts opened per day, by kind"),
        [_day(d.date) for d in days],
        series,
        stacked=True,
        y_label=N_("alerts"),
        label_every=2,
        label_from_end=True,
        summary=summary,
        element_id="chart-alerts",
        frame=COMPACT,
    )


def draw_close(close: TimeToClose) -> Markup:
    """The median time from registered to closed, by the day tickets closed, with the
    whole window's median as a dashed line; in hours, minutes or seconds as they read."""
    medians = [d.median_hours for d in close.days if d.median_hours is not None]
    largest = max([*medians, close.median_hours or 0, 0])
    if largest >= 2:
        unit, factor, axis = "h", 1, N_("hours")
    elif largest * 60 >= 2:
        unit, factor, axis = "min", 60, N_("minutes")
    else:
        unit, factor, axis = "s", 3600, N_("seconds")

    def scale(hours: float | None) -> int | float:
        return 0 if hours is None else tidy(hours * factor)

    titles = [
        f"{d.date}: median {scale(d.median_hours)} {unit}, {plural(d.closed, 'ticket')} closed"
        if d.closed
        else f"{d.date}: no tickets closed"
        for d in close.days
    ]
    series = [
        Series(
            N_("median time to close"),
            [scale(d.median_hours) for d in close.days],
            PALETTE[0],
            titles,
        )
    ]
    overall = None if close.median_hours is None else scale(close.median_hours)
    summary = (
        f"{plural(close.closed, 'ticket')} closed in {DAYS} days; "
        f"median {overall} {unit} from registered to closed."
        if close.closed
        else f"No tickets closed in {DAYS} days."
    )
    return bar_chart(
        N_("Median time to close, by day closed"),
        [_day(d.date) for d in close.days],
        series,
        stacked=True,
        y_label=axis,
        label_every=2,
        label_from_end=True,
        summary=summary,
        reference=Reference(overall, f"{DAYS}-day median {overall} {unit}") if overall else None,
        element_id="chart-close",
        frame=COMPACT,
    )


async def dashboard_chart(
    conn: AsyncConnection,
    scope: Scope,
    community_id: int | None,
    tz_name: str,
    now: datetime,
    name: str,
) -> Markup:
    """One of the dashboard's charts (``CHART_NAMES``), as ``scope`` sees the figures."""
    tz = ZoneInfo(tz_name)
    first, bounds = _window(tz, now)
    if name == "alerts":
        days, kinds = await alerts_per_day(conn, community_id, known_kinds(scope), first, bounds)
        return draw_alerts(days, kinds)
    close = await time_to_close(conn, community_id, known_tickets(scope), first, bounds)
    return draw_close(close)
