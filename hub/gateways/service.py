"""Gateway presence, from the retained status each gateway publishes (and its last will)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from hub.devices.service import visible_devices
from hub.schema.devices import devices
from hub.schema.gateways import gateways
from hub.storage.upsert import upsert
from hub.users.scope import Scope


class GatewayPublic(BaseModel):
    id: str
    online: bool
    changed_at: datetime


async def record_status(conn: AsyncConnection, gateway_id: str, online: bool, at: datetime) -> None:
    await upsert(conn, gateways, {"id": gateway_id, "online": online, "changed_at": at}, ["id"])


def visible_gateways(scope: Scope) -> ColumnElement[bool] | None:
    """The gateways a caller may see (None: all).

    A gateway has no community of its own (no column, and one edge may serve several
    communities): it belongs to a community through the devices last heard through it
    (devices.last_gateway_id). So a caller sees the gateways of the devices they may
    see; a gateway no device has spoken through yet is for admins only. Another
    community's devices sharing that gateway are not revealed: only its id and presence.
    """
    if scope.sees_everything:
        return None
    visible = visible_devices(scope)
    through = sa.select(devices.c.last_gateway_id).where(
        devices.c.last_gateway_id.is_not(None), *([visible] if visible is not None else [])
    )
    return gateways.c.id.in_(through)


async def list_gateways(conn: AsyncConnection, scope: Scope) -> list[GatewayPublic]:
    conditions = [c for c in (visible_gateways(scope),) if c is not None]
    rows = await conn.execute(sa.select(gateways).where(*conditions).order_by(gateways.c.id))
    return [GatewayPublic.model_validate(dict(r._mapping)) for r in rows]
