"""A message with its values apart, said in a reader's language or in every one.

A message is a catalog id with ``%(name)s`` placeholders; its values are shown as
the reader reads them: a ``datetime`` in the community's zone, as a sentence says it
(``今天 13:27`` / ``13:27 today``), a
``timedelta`` from now (``5分钟后``), a :data:`Words` (a callable of the language,
e.g. :func:`duration` or a ticket state's label) in their language, anything else
as it is. Notifications are made in every language at once (:func:`every_language`):
their recipients are many and read different languages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hub.i18n import catalogs, times
from hub.i18n.locales import DEFAULT, SUPPORTED

# A value that is words: it is said in the reader's language (tag → text).
Words = Callable[[str], str]


def shown(value: object, tag: str, zone: ZoneInfo, now: datetime | None = None) -> object:
    """A message's value as a reader of ``tag`` reads it: a time local, words in their
    language, a span of time as "5分钟后"; anything else as it is."""
    if isinstance(value, datetime):
        return times.time_in_sentence(value, zone, tag, now=now)
    if isinstance(value, timedelta):
        return times.relative(value, tag)
    if callable(value):
        return value(tag)
    return value


def say(
    message: str,
    params: Mapping[str, object],
    tag: str,
    zone: ZoneInfo,
    now: datetime | None = None,
) -> str:
    """``message`` in ``tag``'s language with its values as the reader reads them."""
    if not params:
        return catalogs.gettext(tag, message)
    return catalogs.gettext(
        tag, message, **{k: shown(v, tag, zone, now) for k, v in params.items()}
    )


def every_language(
    message: str, /, *, zone: ZoneInfo | None = None, now: datetime | None = None, **params: object
) -> dict[str, str]:
    """``message`` in every supported language: {"zh-CN": "…", "en": "…"}. A time among
    the values needs the community's ``zone`` (a time in UTC is no one's time)."""
    return said_everywhere(message, params, zone, now)


def said_everywhere(
    message: str,
    params: Mapping[str, object],
    zone: ZoneInfo | None = None,
    now: datetime | None = None,
) -> dict[str, str]:
    """:func:`every_language` with the values as a mapping."""
    if zone is None:
        if any(isinstance(v, datetime) for v in params.values()):
            raise ValueError("a time is said in the community's zone: pass zone=")
        zone = ZoneInfo("UTC")
    when = now or datetime.now(UTC)
    return {tag: say(message, params, tag, zone, when) for tag in SUPPORTED}


@dataclass(frozen=True)
class _Span:
    """A span of time in words (:func:`duration`); kept as its seconds."""

    seconds: float

    def __call__(self, tag: str) -> str:
        return times.duration(timedelta(seconds=self.seconds), tag)


@dataclass(frozen=True)
class _Message:
    """A catalog message as words (:func:`words`); kept as its id and plain values."""

    message: str
    params: Mapping[str, object]

    def __call__(self, tag: str) -> str:
        return catalogs.gettext(tag, self.message, **self.params)


@dataclass(frozen=True)
class _Texts:
    """A text written in several languages (:func:`written`); kept as it is."""

    texts: Mapping[str, str]

    def __call__(self, tag: str) -> str:
        return self.texts.get(tag) or self.texts.get(DEFAULT) or next(iter(self.texts.values()), "")


def written(texts: str | Mapping[str, str]) -> Words | str:
    """A text someone wrote per language ({"zh-CN": …, "en": …}), read in the reader's."""
    return texts if isinstance(texts, str) else _Texts(dict(texts))


def duration(seconds: float) -> Words:
    """A span of time in words, without a direction: ``5分钟`` / ``5 minutes``."""
    return _Span(seconds)


def words(message: str, /, **params: object) -> Words:
    """A catalog message as a value of another message, said in the outer one's language."""
    return _Message(message, params)


def keep(message: str, /, **params: object) -> list[object]:
    """``message`` and its values as JSON: a time as {"time": ISO 8601}, a
    :func:`duration` as {"span_s": seconds}, :func:`words` as {"words": [id, values]};
    a :func:`written` text as {"texts": {language: text}}; other words (a callable)
    cannot be kept and are refused."""
    return [message, {k: _kept(v) for k, v in params.items()}]


def _kept(value: object) -> object:
    if isinstance(value, datetime):
        return {"time": value.isoformat()}
    if isinstance(value, _Span):
        return {"span_s": value.seconds}
    if isinstance(value, _Message):
        return {"words": [value.message, dict(value.params)]}
    if isinstance(value, _Texts):
        return {"texts": dict(value.texts)}
    if callable(value):
        raise TypeError("only duration() and words() can be kept as words")
    return value


def say_kept(parts: list[object], tag: str, zone: ZoneInfo, now: datetime | None = None) -> str:
    """Kept messages (``[[id, {values}], ...]``) said in ``tag``'s language, as clauses."""
    said = []
    for part in parts:
        if not isinstance(part, list) or len(part) != 2 or not isinstance(part[1], dict):
            continue
        message, values = str(part[0]), part[1]
        params = {k: _restored(v) for k, v in values.items()}
        said.append(say(message, params, tag, zone, now))
    return catalogs.pgettext(tag, "clauses", "; ").join(said)


def _restored(value: object) -> object:
    if isinstance(value, dict) and set(value) == {"time"}:
        return datetime.fromisoformat(str(value["time"]))
    if isinstance(value, dict) and set(value) == {"span_s"}:
        return _Span(float(value["span_s"]))
    if isinstance(value, dict) and set(value) == {"words"}:
        message, params = value["words"]
        return _Message(str(message), dict(params))
    if isinstance(value, dict) and set(value) == {"texts"}:
        return _Texts({str(k): str(v) for k, v in dict(value["texts"]).items()})
    return value
