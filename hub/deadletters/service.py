"""Dead letters: keep bad input with its raw bytes and reason, idempotently."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import DeadLetter
from hub.deadletters.models import DeadLetterPublic
from hub.deadletters.tables import dead_letters
from hub.storage.upsert import insert_ignoring_duplicates


async def store(conn: AsyncConnection, letters: Sequence[DeadLetter], now: datetime) -> None:
    rows = [
        {
            "id": dl.dead_letter_id,
            "received_at": dl.received_at,
            "stored_at": now,
            "gateway_id": dl.gateway_id,
            "source": dl.source,
            "protocol": dl.protocol,
            "device_id": dl.device_id,
            "reason": dl.reason,
            "raw": dl.raw,
        }
        for dl in letters
    ]
    await insert_ignoring_duplicates(conn, dead_letters, rows)


async def list_dead_letters(
    conn: AsyncConnection, *, device_id: str | None, limit: int, offset: int
) -> tuple[list[DeadLetterPublic], int]:
    conditions = [dead_letters.c.device_id == device_id] if device_id else []
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(dead_letters).where(*conditions))
    ).scalar_one()
    rows = await conn.execute(
        sa.select(dead_letters)
        .where(*conditions)
        .order_by(dead_letters.c.received_at.desc())
        .limit(limit)
        .offset(offset)
    )
    return [DeadLetterPublic.model_validate(dict(r._mapping)) for r in rows], int(total)
