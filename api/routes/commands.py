"""Commands to devices: remote unlock, charger start/stop/reserve, e-bike ports.

Only roles that may act on devices can send them; each command is its own
audit record (who, when, what, why, and what became of it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, status
from sqlalchemy.ext.asyncio import AsyncConnection

from api.deps import Conn, Context, Limit, Offset
from api.pagination import Page
from api.security import CurrentUser, UserScope, require_roles
from hub.access.scope import Scope
from hub.commands import service
from hub.commands.models import CommandCreate, CommandPublic
from hub.devices.service import get_device
from hub.errors import Forbidden, NotFound
from hub.i18n.catalogs import N_
from hub.users.models import Role, UserPublic
from hub.users.words import role_words

router = APIRouter(prefix="/api/v1", tags=["commands"])

# Opening a resident's door is for the property office and admins only; charger
# commands also for community staff.
_LOCK_ROLES = (Role.ADMIN, Role.PROPERTY_MANAGER)
_DEVICE_ROLES = (Role.ADMIN, Role.PROPERTY_MANAGER, Role.COMMUNITY_STAFF)
DeviceOperator = Annotated[UserPublic, Depends(require_roles(*_DEVICE_ROLES))]
DeviceId = Annotated[str, Path(max_length=128)]


async def _visible_device(conn: AsyncConnection, scope: Scope, device_id: str) -> None:
    """Commands reach only devices the caller may see: another community's are 404."""
    if await get_device(conn, scope, device_id) is None:
        raise NotFound(N_("no device %(id)s visible to you"), id=repr(device_id))


@router.post("/devices/{device_id}/commands", status_code=status.HTTP_202_ACCEPTED)
async def send_command(
    device_id: DeviceId,
    request: CommandCreate,
    user: DeviceOperator,
    scope: UserScope,
    ctx: Context,
) -> CommandPublic:
    async with ctx.db.read() as conn:
        await _visible_device(conn, scope, device_id)
    if request.kind.startswith("wristband."):
        # Calling, listening in or writing to an elderly person's watch needs a reason
        # the hub can check: a ticket that is the caller's to handle.
        raise Forbidden(
            N_("a wristband is acted on from its wearer's ticket, not from the device list")
        )
    if request.kind.startswith("lock.") and user.role not in _LOCK_ROLES:
        raise Forbidden(
            N_("role %(role)s may not lock or unlock doors"), role=role_words(user.role)
        )
    try:
        async with ctx.db.write() as conn:
            command = await service.create(conn, device_id, request, user.id, datetime.now(UTC))
    except LookupError as exc:
        if isinstance(exc, NotFound):
            raise
        raise NotFound(N_("no device %(id)s"), id=repr(device_id)) from None
    if ctx.dispatcher is not None and await ctx.dispatcher.send(command):
        async with ctx.db.read() as conn:
            command = await service.get(conn, command.id) or command
    return command


@router.get("/devices/{device_id}/commands")
async def device_commands(
    device_id: DeviceId,
    _user: DeviceOperator,
    scope: UserScope,
    conn: Conn,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[CommandPublic]:
    await _visible_device(conn, scope, device_id)
    items, total = await service.list_for_device(conn, device_id, limit, offset)
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/commands/{command_id}")
async def command(
    command_id: UUID, user: CurrentUser, scope: UserScope, conn: Conn
) -> CommandPublic:
    """A command and what became of it. For device operators on devices they see, and for
    whoever issued it (a volunteer's watch command from their ticket)."""
    found = await service.get(conn, command_id)
    if found is not None and found.issued_by == user.id:
        return found
    await require_roles(*_DEVICE_ROLES)(user)
    if found is None or await get_device(conn, scope, found.device_id) is None:
        raise NotFound(N_("no command %(id)s"), id=command_id)
    return found
