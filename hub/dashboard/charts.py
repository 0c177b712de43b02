"""The dashboard's two charts of the last 14 days, drawn by the hub's chart engine.

The figures are the dashboard's own (``alerts_per_day``, ``time_to_close``);
api/routes/dashboard.py serves each chart as ``image/svg+xml``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.access.scope import Scope
from hub.access.visibility import known_kinds, known_tickets
from hub.alerts.words import what as kind_label
from hub.dashboard.models import DAYS, AlertsDay, TimeToClose
from hub.dashboard.service import alerts_per_day, day_bounds, time_to_close
from hub.i18n.catalogs import gettext, ngettext, pgettext
from hub.i18n.locales import DEFAULT, babel_name, supported
from hub.reports.charts import (
    COMPACT,
    OTHER_COLOR,
    OTHER_KINDS,
    PALETTE,
    Reference,
    Series,
    bar_chart,
    color_for,
    tidy,
)

KEEP_KINDS = 7  # kinds drawn in their own colour; the rest are "other"
CHART_NAMES = ("alerts", "close")


def _window(tz: ZoneInfo, now: datetime) -> tuple[date, list[datetime]]:
    today = now.astimezone(tz).date()
    first = today - timedelta(days=DAYS - 1)
    return first, day_bounds(first, tz)


def _day(d: date, language: str) -> str:
    return format_skeleton("Md", d, locale=babel_name(supported(language) or DEFAULT))


def draw_alerts(days: list[AlertsDay], kinds: list[str], language: str = DEFAULT) -> Markup:
    """Alerts opened per day, stacked by kind (the most frequent kinds first), in
    ``language``."""
    tag = language
    kept, rest = kinds[:KEEP_KINDS], kinds[KEEP_KINDS:]
    series = [
        Series(
            kind_label(kind, tag), [d.by_kind.get(kind, 0) for d in days], color_for(i), key=kind
        )
        for i, kind in enumerate(kept)
    ]
    if rest:
        series.append(
            Series(
                gettext(tag, OTHER_KINDS, n=len(rest)),
                [sum(d.by_kind.get(k, 0) for k in rest) for d in days],
                OTHER_COLOR,
                key="other",
            )
        )
    total = sum(d.total for d in days)
    if total:
        busiest = max(days, key=lambda d: d.total)  # the first of the busiest days
        summary = ngettext(
            tag,
            "%(n)s alert in %(days)s days, %(kinds)s; most on %(day)s (%(most)s).",
            "%(n)s alerts in %(days)s days, %(kinds)s; most on %(day)s (%(most)s).",
            total,
            days=DAYS,
            kinds=ngettext(tag, "%(n)s kind", "%(n)s kinds", len(kinds)),
            day=_day(busiest.date, tag),
            most=busiest.total,
        )
    else:
        summary = gettext(tag, "No alerts in %(days)s days.", days=DAYS)
    return bar_chart(
        gettext(tag, "Alerts opened per day, by kind"),
        [_day(d.date, tag) for d in days],
        series,
        stacked=True,
        y_label=gettext(tag, "alerts"),
        language=tag,
        label_every=2,
        label_from_end=True,
        summary=summary,
        element_id="chart-alerts",
        frame=COMPACT,
    )


def draw_close(close: TimeToClose, language: str = DEFAULT) -> Markup:
    """The median time from registered to closed, by the day tickets closed, with the
    whole window's median as a dashed line; in hours, minutes or seconds as they read."""
    tag = language
    medians = [d.median_hours for d in close.days if d.median_hours is not None]
    largest = max([*medians, close.median_hours or 0, 0])
    if largest >= 2:
        unit, factor, axis = pgettext(tag, "unit", "h"), 1, gettext(tag, "hours")
    elif largest * 60 >= 2:
        unit, factor, axis = pgettext(tag, "unit", "min"), 60, gettext(tag, "minutes")
    else:
        unit, factor, axis = pgettext(tag, "unit", "s"), 3600, gettext(tag, "seconds")

    def scale(hours: float | None) -> int | float:
        return 0 if hours is None else tidy(hours * factor)

    titles = [
        ngettext(
            tag,
            "%(day)s: median %(value)s %(unit)s, %(n)s ticket closed",
            "%(day)s: median %(value)s %(unit)s, %(n)s tickets closed",
            d.closed,
            day=_day(d.date, tag),
            value=scale(d.median_hours),
            unit=unit,
        )
        if d.closed
        else gettext(tag, "%(day)s: no tickets closed", day=_day(d.date, tag))
        for d in close.days
    ]
    series = [
        Series(
            gettext(tag, "median time to close"),
            [scale(d.median_hours) for d in close.days],
            PALETTE[0],
            titles,
        )
    ]
    overall = None if close.median_hours is None else scale(close.median_hours)
    summary = (
        ngettext(
            tag,
            "%(n)s ticket closed in %(days)s days; median %(value)s %(unit)s from registered "
            "to closed.",
            "%(n)s tickets closed in %(days)s days; median %(value)s %(unit)s from registered "
            "to closed.",
            close.closed,
            days=DAYS,
            value=overall,
            unit=unit,
        )
        if close.closed
        else gettext(tag, "No tickets closed in %(days)s days.", days=DAYS)
    )
    reference = gettext(
        tag, "%(days)s-day median %(value)s %(unit)s", days=DAYS, value=overall, unit=unit
    )
    return bar_chart(
        gettext(tag, "Median time to close, by day closed"),
        [_day(d.date, tag) for d in close.days],
        series,
        stacked=True,
        y_label=axis,
        label_every=2,
        label_from_end=True,
        summary=summary,
        reference=Reference(overall, reference) if overall else None,
        element_id="chart-close",
        frame=COMPACT,
        language=tag,
    )


async def dashboard_chart(
    conn: AsyncConnection,
    scope: Scope,
    community_id: int | None,
    tz_name: str,
    now: datetime,
    name: str,
    language: str = DEFAULT,
) -> Markup:
    """One of the dashboard's charts (``CHART_NAMES``), as ``scope`` sees the figures, in
    ``language``."""
    tz = ZoneInfo(tz_name)
    first, bounds = _window(tz, now)
    if name == "alerts":
        days, kinds = await alerts_per_day(conn, community_id, known_kinds(scope), first, bounds)
        return draw_alerts(days, kinds, language)
    close = await time_to_close(conn, community_id, known_tickets(scope), first, bounds)
    return draw_close(close, language)
