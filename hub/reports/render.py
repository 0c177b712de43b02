"""The reports as HTML pages: hub/pages/templates/reports/, with their charts as inline SVG.

The templates escape every value from the database. The pages read at phone
width (tables scroll sideways inside their own box) and print cleanly, so a
browser's "Save as PDF" makes the PDF. Served by the API they link the hub's
one stylesheet; written to a file (``stylesheet=`` its text) they carry it inline.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup

from hub.pages import render
from hub.pages.text import N_
from hub.reports.charts import COMPACT, Series, bar_chart, top_series
from hub.reports.digest import kind_description
from hub.reports.models import DailyDigest, RateStats, WeeklyBulletin

OPENED_COLOR, CLOSED_COLOR = "#0072B2", "#009E73"
# From a report's address (/api/v1/reports/daily) to the app's root, where the stylesheet is.
REPORT_ROOT = "../../../"


def duration(seconds: float | None) -> str:
    """'2 d 3 h', '1 h 05 min', '12 min', '40 s'; an en dash for none."""
    if seconds is None:
        return "–"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    minutes, _ = divmod(s, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


def percent(stats: RateStats) -> str:
    return "–" if stats.rate is None else f"{stats.rate * 100:.0f}%"


def local_time(at: datetime | None, tz: ZoneInfo, *, with_date: bool = True) -> str:
    if at is None:
        return "–"
    local = at.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def weekday(day: date, *, long: bool = False) -> str:
    return day.strftime("%A" if long else "%a")


def _formatters(tz: ZoneInfo) -> dict[str, Any]:
    def local(at: datetime | None, with_date: bool = True) -> str:
        return local_time(at, tz, with_date=with_date)

    return {
        "duration": duration,
        "percent": percent,
        "local_time": local,
        "weekday": weekday,
        "kind_description": kind_description,
    }


def _hour_chart(report: DailyDigest) -> Markup:
    kinds: dict[str, list[int]] = {}
    for h in report.alerts_by_hour:
        for kind in h.alerts_by_kind:
            kinds.setdefault(kind, [0] * 24)
    for h in report.alerts_by_hour:
        for kind, n in h.alerts_by_kind.items():
            kinds[kind][h.hour] = n
    return bar_chart(
        N_("Alerts opened per hour, by kind"),
        [f"{h:02d}" for h in range(24)],
        top_series(kinds),
        stacked=True,
        y_label=N_("alerts"),
        label_every=3,
        frame=COMPACT,
    )


def render_daily(report: DailyDigest, *, stylesheet: str | None = None) -> str:
    """The daily digest's page; ``stylesheet`` (its text) makes it one self-contained file."""
    return render(
        "reports/daily.html",
        static_root=REPORT_ROOT,
        stylesheet=stylesheet,
        report=report,
        window=report.window,
        day=report.window.first_day,
        hour_chart=_hour_chart(report),
        **_formatters(ZoneInfo(report.window.timezone)),
    )


def _day_labels(report: WeeklyBulletin) -> list[str]:
    return [f"{weekday(d.day)} {d.day.day}" for d in report.days]


def _week_alert_chart(report: WeeklyBulletin) -> Markup:
    kinds = {k: [d.alerts_by_kind.get(k, 0) for d in report.days] for k in report.alert_kinds}
    return bar_chart(
        N_("Alerts per day, by kind"),
        _day_labels(report),
        top_series(kinds),
        stacked=True,
        y_label=N_("alerts"),
        frame=COMPACT,
    )


def _week_ticket_chart(report: WeeklyBulletin) -> Markup:
    return bar_chart(
        N_("Tickets opened and closed per day"),
        _day_labels(report),
        [
            Series(N_("opened"), [d.tickets_opened for d in report.days], OPENED_COLOR),
            Series(N_("closed"), [d.tickets_closed for d in report.days], CLOSED_COLOR),
        ],
        stacked=False,
        y_label=N_("tickets"),
        frame=COMPACT,
    )


def render_weekly(report: WeeklyBulletin, *, stylesheet: str | None = None) -> str:
    """The weekly bulletin's page; ``stylesheet`` (its text) makes it one self-contained file."""
    return render(
        "reports/weekly.html",
        static_root=REPORT_ROOT,
        stylesheet=stylesheet,
        report=report,
        window=report.window,
        alert_chart=_week_alert_chart(report),
        ticket_chart=_week_ticket_chart(report),
        kind_totals={
            k: sum(d.alerts_by_kind.get(k, 0) for d in report.days) for k in report.alert_kinds
        },
        **_formatters(ZoneInfo(report.window.timezone)),
    )
