"""Residents: how to name a device's wearer and place in a ticket."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.devices.models import DeviceContext
from hub.grid.tables import households
from hub.residents.tables import residents


async def who_and_where(conn: AsyncConnection, ctx: DeviceContext) -> tuple[str, str]:
    """A person's name and address for titles; falls back to the device when unplaced."""
    who, where = ctx.name, "unknown location"
    if ctx.resident_id is not None:
        row = (
            await conn.execute(
                sa.select(residents.c.full_name).where(residents.c.id == ctx.resident_id)
            )
        ).first()
        if row:
            who = row.full_name
    if ctx.household_id is not None:
        row = (
            await conn.execute(
                sa.select(households.c.address).where(households.c.id == ctx.household_id)
            )
        ).first()
        if row:
            where = row.address
    return who, where
