"""Devices and their last-known state, as far as the caller may see."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from api import labels
from api.deps import Conn, Context, Limit, Offset
from api.errors import MAX_ID, ErrorBody
from api.pagination import Page
from api.reader import CurrentReader
from api.security import UserScope, require_roles
from device_adapters.model import DeviceFamily
from hub.access.scope import Scope
from hub.devices.models import DevicePublic
from hub.devices.service import DeviceFilters, get_device, list_devices
from hub.devices.sources import move_device
from hub.errors import NotFound
from hub.i18n.catalogs import N_
from hub.users.models import Role, UserPublic

router = APIRouter(prefix="/api/v1/devices", tags=["devices"])
log = logging.getLogger(__name__)


@router.get("")
async def devices(
    scope: UserScope,
    conn: Conn,
    reader: CurrentReader,
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
    items = [labels.device(d, reader.language, reader.zone) for d in items]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/{device_id}")
async def device(
    scope: UserScope,
    conn: Conn,
    reader: CurrentReader,
    device_id: Annotated[str, Path(max_length=128)],
) -> DevicePublic:
    found = await get_device(conn, scope, device_id)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            reader.text(N_("no device %(id)s visible to you"), id=repr(device_id)),
        )
    return labels.device(found, reader.language, reader.zone)


class GatewayBinding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gateway_id: str | None = Field(
        description="the gateway whose reports of this device are believed from now on; "
        "null: the next gateway to report it",
        pattern=r"^[A-Za-z0-9_.\-]{1,64}$",
    )


Admin = Annotated[UserPublic, Depends(require_roles(Role.ADMIN))]


@router.put(
    "/{device_id}/gateway",
    responses={
        403: {"model": ErrorBody, "description": "only an admin moves a device"},
        404: {"model": ErrorBody, "description": "no such device"},
    },
)
async def bind_gateway(
    admin: Admin,
    ctx: Context,
    device_id: Annotated[str, Path(max_length=128)],
    binding: GatewayBinding,
) -> DevicePublic:
    """Move a device to another gateway: from now on only that gateway's reports of it
    are believed, and commands go through it. Reports from the old one become dead
    letters (docs/trust.md)."""
    async with ctx.db.write() as conn:
        if not await move_device(conn, device_id, binding.gateway_id):
            raise NotFound(N_("no device %(id)s"), id=repr(device_id))
        moved = await get_device(conn, Scope(admin.id, Role.ADMIN, None, None), device_id)
    assert moved is not None
    log.info(
        "admin %s bound device %s to gateway %s", admin.username, device_id, binding.gateway_id
    )
    return moved
