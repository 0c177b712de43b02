"""Gateway presence, from the retained status each gateway publishes (and its last will)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.access.scope import Scope
from hub.access.visibility import visible_gateways
from hub.schema.gateways import gateways
from hub.storage.upsert import upsert


class GatewayPublic(BaseModel):
    id: str
    online: bool
    changed_at: datetime


async def record_status(conn: AsyncConnection, gateway_id: str, online: bool, at: datetime) -> bool:
    """Record a gateway's status; True if it changed (a first status is a change only
    when it is "offline": a gateway first heard online was not missing before).

    A status heard again (a hub restarted reads the retained one, several hubs each read
    it) changes nothing, so what a change starts happens once."""
    before = (
        await conn.execute(sa.select(gateways.c.online).where(gateways.c.id == gateway_id))
    ).scalar()
    await upsert(conn, gateways, {"id": gateway_id, "online": online, "changed_at": at}, ["id"])
    if before is None:
        return not online
    return bool(before) != online


async def list_gateways(conn: AsyncConnection, scope: Scope) -> list[GatewayPublic]:
    conditions = [c for c in (visible_gateways(scope),) if c is not None]
    rows = await conn.execute(sa.select(gateways).where(*conditions).order_by(gateways.c.id))
    return [GatewayPublic.model_validate(dict(r._mapping)) for r in rows]
