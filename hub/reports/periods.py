"""Report periods: a local day or an ISO week in a community's time zone, as UTC windows.

A day runs from local midnight to the next local midnight, so it is 23 or 25
hours long across a daylight-saving change. A week is ISO 8601: Monday 00:00
to the next Monday 00:00, local time, numbered like ``2026-W47``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.i18n.catalogs import N_
from hub.i18n.said import say


class BadReportInput(ValueError):
    """A report parameter that cannot be understood; ``field`` names it. ``message`` is
    the English (the command line's); :meth:`for_reader` says it in a reader's language."""

    def __init__(self, field: str, message: str, /, **params: object) -> None:
        self.field, self.message_id, self.params = field, message, params
        self.message = say(message, params, "en", ZoneInfo("UTC"))
        super().__init__(f"{field}: {self.message}")

    def for_reader(self, tag: str, zone: ZoneInfo) -> str:
        return say(self.message_id, self.params, tag, zone)


_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def parse_date(text: str) -> date:
    """``YYYY-MM-DD``; raises BadReportInput saying what is wrong."""
    match = _DATE.match(text.strip())
    if match is None:
        raise BadReportInput(
            "date", N_("must look like YYYY-MM-DD (e.g. 2026-11-16), not %(text)r"), text=text
        )
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        raise BadReportInput(
            "date", N_("%(text)r is not a calendar date: %(why)s"), text=text, why=str(exc)
        ) from None


def weeks_in_year(year: int) -> int:
    """52 or 53: 28 December always falls in the year's last ISO week."""
    return date(year, 12, 28).isocalendar().week


def parse_week(text: str) -> tuple[int, int]:
    """``YYYY-Www`` (ISO 8601 week, e.g. 2026-W47); returns (year, week)."""
    match = _WEEK.match(text.strip().upper())
    if match is None:
        raise BadReportInput(
            "week", N_("must be an ISO week like 2026-W47 (YYYY-Www), not %(text)r"), text=text
        )
    year, week = int(match[1]), int(match[2])
    if year < 1 or year > 9998:
        raise BadReportInput("week", N_("year %(year)s is out of range"), year=year)
    last = weeks_in_year(year)
    if not 1 <= week <= last:
        raise BadReportInput(
            "week",
            N_("%(year)s has ISO weeks W01 to W%(last)02d; got W%(week)02d"),
            year=year,
            last=last,
            week=week,
        )
    return year, week


def week_label(year: int, week: int) -> str:
    return f"{year:04d}-W{week:02d}"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadReportInput("timezone", N_("unknown time zone %(name)r"), name=name) from None


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant local ``day`` begins (the first moment of it, across DST changes)."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """Consecutive local days in one time zone, and the UTC window they cover."""

    label: str  # "2026-11-16" or "2026-W47"
    days: tuple[date, ...]
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return local_midnight(self.days[0], self.tz)

    @property
    def end(self) -> datetime:
        """Exclusive: the next local midnight after the last day."""
        return local_midnight(self.days[-1] + timedelta(days=1), self.tz)

    def contains(self, at: datetime | None) -> bool:
        return at is not None and self.start <= at < self.end

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.tz)

    def day_index(self, at: datetime) -> int | None:
        """Which of the period's days an instant falls on, by local date; None outside."""
        if not self.contains(at):
            return None
        return (self.local(at).date() - self.days[0]).days

    def as_of(self, now: datetime) -> datetime:
        """The end of the window, or now when the period is not over yet."""
        return min(self.end, now)


def day_period(day: date, tz: ZoneInfo) -> Period:
    return Period(day.isoformat(), (day,), tz)


def week_period(year: int, week: int, tz: ZoneInfo) -> Period:
    monday = date.fromisocalendar(year, week, 1)
    return Period(week_label(year, week), tuple(monday + timedelta(days=n) for n in range(7)), tz)


def today_in(tz: ZoneInfo, now: datetime) -> date:
    return now.astimezone(tz).date()
