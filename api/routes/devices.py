"""Devices and their last-known state, as far as the caller may see."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from api.deps import Conn, Limit, Offset
from api.errors import MAX_ID
from api.pagination import Page
from api.security import UserScope
from device_adapters.model import DeviceFamily
from hub.devices.models import DevicePublic
from hub.devices.service import DeviceFilters, get_device, list_devices

router = APIRouter(prefix="/api/v1/devices", tags=["devices"])


@router.get("")
async def devices(
    scope: UserScope,
    conn: Conn,
    family: Annotated[DeviceFamily | None, Query()] = None,
    building_id: Annotated[
        int | None,
        Query(gt=0, le=MAX_ID, description="its household's building, or where it is installed"),
    ] = None,
    grid_id: Annotated[int | None, Query(gt=0, le=MAX_ID)] = None,
    online: Annotated[
        bool | None,
        Query(description="as the edge last reported; a device never reported matches neither"),
    ] = None,
    battery_below: Annotated[
        int | None, Query(ge=1, le=100, description="battery below this percentage")
    ] = None,
    faulted: Annotated[
        bool | None,
        Query(
            description="an active high or critical alert you may see, or a charging port "
            "out of order"
        ),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[DevicePublic]:
    """The devices the caller may see, by id. A wristband's health readings (its state's
    vitals and position) only for admins, community staff and the wearer's household."""
    filters = DeviceFilters(
        building_id=building_id,
        grid_id=grid_id,
        online=online,
        battery_below=battery_below,
        faulted=faulted,
    )
    items, total = await list_devices(
        conn,
        scope,
        family=family.value if family else None,
        limit=limit,
        offset=offset,
        filters=filters,
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
