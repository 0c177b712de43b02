"""Edge gateways and whether they are online (from their retained status and last will)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import Conn
from api.security import UserScope, require_roles
from hub.gateways.service import GatewayPublic, list_gateways
from hub.users.models import Role, UserPublic

router = APIRouter(prefix="/api/v1/gateways", tags=["gateways"])
Operator = Annotated[
    UserPublic, Depends(require_roles(Role.ADMIN, Role.PROPERTY_MANAGER, Role.COMMUNITY_STAFF))
]


@router.get("")
async def gateways(_user: Operator, scope: UserScope, conn: Conn) -> list[GatewayPublic]:
    """The gateways your community's devices were last heard through (admins: all)."""
    return await list_gateways(conn, scope)
