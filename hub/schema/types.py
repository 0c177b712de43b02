"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# The last value bound and its text: a batch binds the same ``stored_at`` to every row.
# One tuple, swapped whole; the value is held, so its identity cannot be reused.
_last_bound: tuple[datetime | None, str] = (None, "")


def sqlite_text(value: datetime | None) -> str | None:
    """An aware datetime as the UTC text SQLAlchemy's SQLite DATETIME stores.

    The same text as ``process_bind_param`` followed by SQLAlchemy's own
    DATETIME formatting ("YYYY-MM-DD HH:MM:SS.ffffff", naive UTC), in one C
    call for a UTC value: the two Python steps were 10 % of the hub's GIL time
    in the ingest benchmark, where every event binds three of them.
    """
    global _last_bound
    if value is None:
        return None
    last = _last_bound
    if last[0] is value:
        return last[1]
    text = value.isoformat(" ", "microseconds")
    if text.endswith("+00:00"):
        text = text[:-6]
    else:
        offset = value.utcoffset()
        if offset is None:
            raise ValueError("naive datetime given to a UTC column")
        text = (value - offset).replace(tzinfo=None).isoformat(" ", "microseconds")
    _last_bound = (value, text)
    return text


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out (SQLite drops the offset otherwise)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite stores text: keep it naive-UTC so ordering by text is ordering by time.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return sqlite_text
        return super().bind_processor(dialect)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
