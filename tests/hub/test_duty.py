"""The duty rota: weekday and time windows, including shifts past midnight."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hub.duty.service import covers
from tests.support.hubdata import open_seeded_db, volunteer_on_duty_for

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("weekday", "start", "end", "local", "expected"),
    [
        (None, 8 * 60, 20 * 60, datetime(2026, 11, 23, 8, 0), True),
        (None, 8 * 60, 20 * 60, datetime(2026, 11, 23, 19, 59), True),
        (None, 8 * 60, 20 * 60, datetime(2026, 11, 23, 20, 0), False),
        (None, 20 * 60, 8 * 60, datetime(2026, 11, 23, 23, 30), True),
        (None, 20 * 60, 8 * 60, datetime(2026, 11, 23, 3, 0), True),
        (None, 20 * 60, 8 * 60, datetime(2026, 11, 23, 12, 0), False),
        # Monday 2026-11-23: a Sunday-night shift still covers early Monday.
        (6, 22 * 60, 6 * 60, datetime(2026, 11, 23, 2, 0), True),
        (6, 22 * 60, 6 * 60, datetime(2026, 11, 24, 2, 0), False),
        (0, 0, 24 * 60, datetime(2026, 11, 23, 23, 59), True),
        (1, 0, 24 * 60, datetime(2026, 11, 23, 12, 0), False),
    ],
)
def test_covers(weekday: int | None, start: int, end: int, local: datetime, expected: bool) -> None:
    assert covers(weekday, start, end, local) is expected


@pytest.mark.parametrize(
    ("local_time", "expected"),
    [
        (datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI), "vol.li"),
        (datetime(2026, 11, 23, 23, 0, tzinfo=SHANGHAI), "vol.chen"),
        (datetime(2026, 11, 24, 7, 59, tzinfo=SHANGHAI), "vol.chen"),
    ],
)
async def test_demo_rota_routes_by_community_local_time(
    tmp_path: Path, local_time: datetime, expected: str
) -> None:
    db = await open_seeded_db(tmp_path)
    try:
        assert await volunteer_on_duty_for(db, "8800000101", local_time.astimezone(UTC)) == expected
        # 第二网格 has one volunteer all day.
        assert (
            await volunteer_on_duty_for(db, "8800000301", local_time.astimezone(UTC)) == "vol.wang"
        )
    finally:
        await db.close()
