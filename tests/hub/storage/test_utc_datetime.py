"""UtcDateTime on SQLite: the one-step bind gives exactly the text the two SQLAlchemy steps gave.

Rows written before the fused bind must compare, sort and read back like rows
written after it, so the text has to be identical, not just equivalent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from pydantic import AwareDatetime, TypeAdapter
from sqlalchemy.dialects import sqlite

from hub.schema.types import UtcDateTime, sqlite_text

_SQLITE = sqlite.dialect()

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(9000, 1, 1), timezones=offsets
)


def _as_sqlalchemy_wrote_it(value: datetime) -> str:
    """process_bind_param, then SQLAlchemy's SQLite DATETIME processor: the old two steps."""
    column = UtcDateTime()
    naive = column.process_bind_param(value, _SQLITE)
    processor = sa.DateTime().dialect_impl(_SQLITE).bind_processor(_SQLITE)
    assert processor is not None
    return str(processor(naive))


@given(aware)
def test_the_fused_bind_writes_the_same_text(value: datetime) -> None:
    assert sqlite_text(value) == _as_sqlalchemy_wrote_it(value)


@given(aware)
def test_events_parsed_by_pydantic_bind_the_same_text_again_and_again(value: datetime) -> None:
    """Events carry pydantic's own tzinfo class; a batch binds one ``stored_at`` many times."""
    parsed = TypeAdapter(AwareDatetime).validate_json(f'"{value.isoformat()}"')
    assert parsed.tzinfo is not None and type(parsed.tzinfo) is not timezone
    expected = _as_sqlalchemy_wrote_it(value)
    assert [sqlite_text(parsed), sqlite_text(parsed), sqlite_text(value)] == [expected] * 3


def test_the_sqlite_dialect_uses_the_fused_bind_and_others_do_not() -> None:
    assert UtcDateTime().dialect_impl(_SQLITE).bind_processor(_SQLITE) is sqlite_text
    from sqlalchemy.dialects import postgresql

    pg = postgresql.dialect()
    assert UtcDateTime().dialect_impl(pg).bind_processor(pg) is not sqlite_text


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        sqlite_text(datetime(2026, 11, 22, 5, 0))


def test_values_read_back_as_aware_utc_and_sort_by_time(tmp_path: Path) -> None:
    table = sa.Table(
        "moments",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UtcDateTime, nullable=False),
    )
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'moments.sqlite3'}")
    shanghai = timezone(timedelta(hours=8))
    written = [
        datetime(2026, 11, 22, 13, 0, tzinfo=shanghai),  # 05:00 UTC
        datetime(2026, 11, 22, 4, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 11, 21, 23, 30, tzinfo=timezone(timedelta(hours=-6))),  # 05:30 UTC
    ]
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(table.insert(), [{"id": i, "at": at} for i, at in enumerate(written)])
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table.c.id, table.c.at).order_by(table.c.at)).all()
        since = conn.execute(
            sa.select(table.c.id).where(table.c.at > datetime(2026, 11, 22, 13, 0, tzinfo=shanghai))
        ).scalars()
        assert list(since) == [2]
    engine.dispose()
    assert [r.id for r in rows] == [1, 0, 2]
    assert [r.at for r in rows] == [written[1], written[0], written[2]]
    assert all(r.at.tzinfo is UTC for r in rows)
