"""Times as a person reads them: in their community's zone, in their language.

``12月7日 13:27`` / ``7 Dec 13:27``; ``今天 13:27`` / ``Today 13:27`` for today,
yesterday and tomorrow; the year only when it is not this one. Always 24-hour:
it is how duty rotas and notices are written. ``relative`` says ``5分钟后`` /
``in 5 minutes``. Machines get ISO 8601 with an offset (:func:`iso_local`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, format_time, format_timedelta

from hub.i18n.catalogs import pgettext
from hub.i18n.locales import babel_name, supported


def _tag(tag: str) -> str:
    return supported(tag) or "zh-CN"


def local_time(at: datetime, tz: ZoneInfo, tag: str, *, now: datetime | None = None) -> str:
    """``at`` in ``tz`` for a reader of ``tag``, its day said relative to ``now``."""
    tag = _tag(tag)
    locale = babel_name(tag)
    local = _aware(at).astimezone(tz)
    today = _aware(now or datetime.now(UTC)).astimezone(tz).date()
    clock = format_time(local, "HH:mm", locale=locale)
    days = (local.date() - today).days
    if days == 0:
        return pgettext(tag, "day", "Today %(time)s", time=clock)
    if days == -1:
        return pgettext(tag, "day", "Yesterday %(time)s", time=clock)
    if days == 1:
        return pgettext(tag, "day", "Tomorrow %(time)s", time=clock)
    skeleton = "MMMd" if local.year == today.year else "yMMMd"
    day = format_skeleton(skeleton, local, locale=locale)
    return pgettext(tag, "date and time", "%(day)s %(time)s", day=day, time=clock)


def local_date(at: datetime, tz: ZoneInfo, tag: str) -> str:
    """The day of ``at`` in ``tz``: ``2026年12月7日`` / ``7 Dec 2026``."""
    return format_skeleton("yMMMd", _aware(at).astimezone(tz), locale=babel_name(_tag(tag)))


def relative(delta: timedelta, tag: str) -> str:
    """``delta`` from now: positive is to come (``5分钟后``), negative past (``5分钟前``)."""
    return format_timedelta(delta, threshold=1.5, add_direction=True, locale=babel_name(_tag(tag)))


def duration(delta: timedelta, tag: str) -> str:
    """A span of time without a direction: ``5分钟`` / ``5 minutes``."""
    return format_timedelta(delta, threshold=1.5, locale=babel_name(_tag(tag)))


def iso_local(at: datetime, tz: ZoneInfo) -> str:
    """ISO 8601 with the community's offset, to the second: ``2026-12-07T13:27:00+08:00``."""
    return _aware(at).astimezone(tz).isoformat(timespec="seconds")


def _aware(at: datetime) -> datetime:
    # The database gives UTC; a naive value is UTC by this codebase's convention.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
