"""Who is on duty in a grid at a given moment, from the weekly rota in community local time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.duty.tables import duty_rota
from hub.grid.tables import communities, grids


def covers(weekday: int | None, start: int, end: int, local: datetime) -> bool:
    """Whether a rota line (weekday, start/end minute) covers a local time.

    A line whose end is at or before its start runs past midnight: its second
    part belongs to the next day, so it covers early hours of weekday + 1.
    """
    minute = local.hour * 60 + local.minute
    today = local.weekday()
    if end > start:
        return (weekday is None or weekday == today) and start <= minute < end
    yesterday = (today - 1) % 7
    return ((weekday is None or weekday == today) and minute >= start) or (
        (weekday is None or weekday == yesterday) and minute < end
    )


async def on_duty(
    conn: AsyncConnection, grid_id: int, at: datetime, position: str = "primary"
) -> list[int]:
    """User ids on duty in the grid at ``at`` for that position, in rota order."""
    tz_row = (
        await conn.execute(
            sa.select(communities.c.timezone)
            .select_from(grids.join(communities))
            .where(grids.c.id == grid_id)
        )
    ).first()
    if tz_row is None:
        return []
    local = at.astimezone(ZoneInfo(tz_row[0]))
    rows = await conn.execute(
        sa.select(
            duty_rota.c.user_id,
            duty_rota.c.weekday,
            duty_rota.c.start_minute,
            duty_rota.c.end_minute,
        )
        .where(duty_rota.c.grid_id == grid_id, duty_rota.c.position == position)
        .order_by(duty_rota.c.id)
    )
    return [r.user_id for r in rows if covers(r.weekday, r.start_minute, r.end_minute, local)]
