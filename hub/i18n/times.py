"""Times as a person reads them: in their community's zone, in their language.

``12月7日 13:27`` / ``7 Dec 13:27``; ``今天 13:27`` / ``Today 13:27`` for today,
yesterday and tomorrow; the year only when it is not this one. Always 24-hour:
it is how duty rotas and notices are written. ``relative`` says ``5分钟后`` /
``in 5 minutes``. Machines get ISO 8601 with an offset (:func:`iso_local`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, format_time, format_timedelta, get_timezone_name

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


def time_in_sentence(at: datetime, tz: ZoneInfo, tag: str, *, now: datetime | None = None) -> str:
    """:func:`local_time` as part of a sentence ("try again at 16:00 today"): English puts
    the day after the clock there, Chinese says it as it does alone (``今天 16:00``)."""
    tag = _tag(tag)
    local = _aware(at).astimezone(tz)
    today = _aware(now or datetime.now(UTC)).astimezone(tz).date()
    clock = format_time(local, "HH:mm", locale=babel_name(tag))
    days = (local.date() - today).days
    if days == 0:
        return pgettext(tag, "day, in a sentence", "%(time)s today", time=clock)
    if days == -1:
        return pgettext(tag, "day, in a sentence", "%(time)s yesterday", time=clock)
    if days == 1:
        return pgettext(tag, "day, in a sentence", "%(time)s tomorrow", time=clock)
    return local_time(at, tz, tag, now=now)


# The zones of China's one standard time (UTC+8): people call it Beijing time.
_CHINA = frozenset({"Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "Asia/Harbin", "PRC"})


def zone_name(tz: ZoneInfo, tag: str) -> str:
    """A time zone as people name it: ``北京时间`` / ``China Standard Time`` for China's,
    else the locale's generic name (``英国时间`` / ``British Time``); UTC as UTC."""
    tag = _tag(tag)
    if tz.key in _CHINA:
        return pgettext(tag, "time zone", "China Standard Time")
    if tz.key in ("UTC", "Etc/UTC", "Etc/GMT", "GMT"):
        return "UTC"
    return get_timezone_name(tz, "long", zone_variant="generic", locale=babel_name(tag))


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
