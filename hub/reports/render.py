"""The reports as HTML pages: hub/pages/templates/reports/, with their charts as inline SVG.

The templates escape every value from the database. The pages read at phone
width (tables scroll sideways inside their own box) and print cleanly, so a
browser's "Save as PDF" makes the PDF. Served by the API they link the hub's
one stylesheet; written to a file (``stylesheet=`` its text) they carry it inline.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton
from markupsafe import Markup

from hub.alerts.words import what as kind_label
from hub.devices.words import severity_label
from hub.i18n import times
from hub.i18n.catalogs import gettext, pgettext
from hub.i18n.locales import DEFAULT, babel_name, supported
from hub.pages import LanguageLink, render
from hub.reports.charts import COMPACT, Series, bar_chart, top_series
from hub.reports.models import DailyDigest, RateStats, WeeklyBulletin
from hub.tickets.words import status_label

OPENED_COLOR, CLOSED_COLOR = "#0072B2", "#009E73"
# From a report's address (/api/v1/reports/daily) to the app's root, where the stylesheet is.
REPORT_ROOT = "../../../"


def duration(seconds: float | None, language: str = DEFAULT) -> str:
    """'2 d 3 h', '1 h 05 min', '12 min', '40 s' (2天3小时, 1小时05分, 12分钟, 40秒);
    an en dash for none."""
    if seconds is None:
        return "–"
    s = round(seconds)
    if s < 60:
        return pgettext(language, "duration", "%(s)s s", s=s)
    minutes, _ = divmod(s, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return pgettext(language, "duration", "%(d)s d %(h)s h", d=days, h=hours)
    if hours:
        padded = f"{minutes:02d}"
        return pgettext(language, "duration", "%(h)s h %(min)s min", h=hours, min=padded)
    return pgettext(language, "duration", "%(min)s min", min=minutes)


def percent(stats: RateStats) -> str:
    return "–" if stats.rate is None else f"{stats.rate * 100:.0f}%"


def percent_of(numerator: int, denominator: int) -> str:
    return "–" if not denominator else f"{numerator / denominator * 100:.0f}%"


def local_time(
    at: datetime | None, tz: ZoneInfo, language: str = DEFAULT, *, with_date: bool = True
) -> str:
    """A time in the report's zone: with its date (``2026年12月7日 13:27``), since a report
    is read on other days than it is made, or the clock alone (``13:27``)."""
    if at is None:
        return "–"
    local = at.astimezone(tz)
    clock = local.strftime("%H:%M")
    if not with_date:
        return clock
    day = times.local_date(local, tz, language)
    return pgettext(language, "date and time", "%(day)s %(time)s", day=day, time=clock)


def weekday(day: date, language: str = DEFAULT, *, long: bool = False) -> str:
    return format_date(day, "EEEE" if long else "EEE", locale=_babel(language))


def long_date(day: date, language: str = DEFAULT) -> str:
    return format_skeleton("yMMMd", day, locale=_babel(language))


def short_date(day: date, language: str = DEFAULT) -> str:
    return format_skeleton("MMMd", day, locale=_babel(language))


def _babel(language: str) -> str:
    return babel_name(supported(language) or DEFAULT)


def _formatters(tz: ZoneInfo, language: str) -> dict[str, Any]:
    def local(at: datetime | None, with_date: bool = True) -> str:
        return local_time(at, tz, language, with_date=with_date)

    return {
        "duration": partial(duration, language=language),
        "percent": percent,
        "percent_of": percent_of,
        "local_time": local,
        "zone_name": times.zone_name(tz, language),
        "weekday": partial(weekday, language=language),
        "long_date": partial(long_date, language=language),
        "short_date": partial(short_date, language=language),
        "kind_description": partial(kind_label, language=language),
        "severity_label": partial(severity_label, tag=language),
        "status_label": partial(status_label, tag=language),
    }


def _hour_chart(report: DailyDigest, language: str) -> Markup:
    kinds: dict[str, list[int]] = {}
    for h in report.alerts_by_hour:
        for kind in h.alerts_by_kind:
            kinds.setdefault(kind, [0] * 24)
    for h in report.alerts_by_hour:
        for kind, n in h.alerts_by_kind.items():
            kinds[kind][h.hour] = n
    return bar_chart(
        gettext(language, "Alerts opened per hour, by kind"),
        [f"{h:02d}" for h in range(24)],
        _kinds(kinds, language),
        stacked=True,
        y_label=gettext(language, "alerts"),
        label_every=3,
        frame=COMPACT,
        language=language,
    )


def _kinds(kinds: dict[str, list[int]], language: str) -> list[Series]:
    return top_series(kinds, language=language, name=partial(kind_label, language=language))


def render_daily(
    report: DailyDigest,
    *,
    stylesheet: str | None = None,
    language: str = DEFAULT,
    language_links: Sequence[LanguageLink] = (),
) -> str:
    """The daily digest's page in ``language``; ``stylesheet`` (its text) makes it one
    self-contained file."""
    return render(
        "reports/daily.html",
        language=language,
        language_links=language_links,
        static_root=REPORT_ROOT,
        stylesheet=stylesheet,
        report=report,
        window=report.window,
        day=report.window.first_day,
        hour_chart=_hour_chart(report, language),
        **_formatters(ZoneInfo(report.window.timezone), language),
    )


def _day_labels(report: WeeklyBulletin, language: str) -> list[str]:
    return [f"{weekday(d.day, language)} {d.day.day}" for d in report.days]


def _week_alert_chart(report: WeeklyBulletin, language: str) -> Markup:
    kinds = {k: [d.alerts_by_kind.get(k, 0) for d in report.days] for k in report.alert_kinds}
    return bar_chart(
        gettext(language, "Alerts per day, by kind"),
        _day_labels(report, language),
        _kinds(kinds, language),
        stacked=True,
        y_label=gettext(language, "alerts"),
        frame=COMPACT,
        language=language,
    )


def _week_ticket_chart(report: WeeklyBulletin, language: str) -> Markup:
    opened = [d.tickets_opened for d in report.days]
    closed = [d.tickets_closed for d in report.days]
    return bar_chart(
        gettext(language, "Tickets opened and closed per day"),
        _day_labels(report, language),
        [
            Series(gettext(language, "opened"), opened, OPENED_COLOR),
            Series(gettext(language, "closed"), closed, CLOSED_COLOR),
        ],
        stacked=False,
        y_label=gettext(language, "tickets"),
        frame=COMPACT,
        language=language,
    )


def render_weekly(
    report: WeeklyBulletin,
    *,
    stylesheet: str | None = None,
    language: str = DEFAULT,
    language_links: Sequence[LanguageLink] = (),
) -> str:
    """The weekly bulletin's page in ``language``; ``stylesheet`` (its text) makes it one
    self-contained file."""
    return render(
        "reports/weekly.html",
        language=language,
        language_links=language_links,
        static_root=REPORT_ROOT,
        stylesheet=stylesheet,
        report=report,
        window=report.window,
        alert_chart=_week_alert_chart(report, language),
        ticket_chart=_week_ticket_chart(report, language),
        kind_totals={
            k: sum(d.alerts_by_kind.get(k, 0) for d in report.days) for k in report.alert_kinds
        },
        **_formatters(ZoneInfo(report.window.timezone), language),
    )
