"""Devices and their last-known state, as far as the caller may see."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from api.deps import Conn, Limit, Offset
from api.pagination import Page
from api.security import UserScope
from device_adapters.model import DeviceFamily
from hub.devices.models import DevicePublic
from hub.devices.service import get_device, list_devices

router = APIRouter(prefix="/api/v1/devices", tags=["devices"])


@router.get("")
async def devices(
    scope: UserScope,
    conn: Conn,
    family: Annotated[DeviceFamily | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[DevicePublic]:
    items, total = await list_devices(
        conn, scope, family=family.value if family else None, limit=limit, offset=offset
    )
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/{device_id}")
async def device(
    scope: UserScope, conn: Conn, device_id: Annotated[str, Path(max_length=128)]
) -> DevicePublic:
    found = await get_device(conn, scope, device_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {device_id!r} visible to you")
    return found
