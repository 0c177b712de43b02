"""Volunteers and the duty rota: who serves which grid, when, in which position, and who
is on duty now.

Reading the rota: admins everything, community staff and property managers their
community's, volunteers their own lines. Changing it: community staff (their community)
and admins.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status

from api.deps import Conn, Context, Limit, Offset
from api.pagination import Page
from api.security import UserScope, require_roles
from hub.duty import service
from hub.duty.models import (
    OnDutyNow,
    Position,
    RotaLineCreate,
    RotaLinePublic,
    RotaLineUpdate,
    VolunteerPublic,
)
from hub.users.models import Role, UserPublic

router = APIRouter(prefix="/api/v1", tags=["duty"])

Supervisor = Annotated[
    UserPublic,
    Depends(require_roles(Role.ADMIN, Role.COMMUNITY_STAFF, Role.PROPERTY_MANAGER)),
]
RotaReader = Annotated[
    UserPublic,
    Depends(require_roles(Role.ADMIN, Role.COMMUNITY_STAFF, Role.PROPERTY_MANAGER, Role.VOLUNTEER)),
]
Writer = Annotated[UserPublic, Depends(require_roles(*service.WRITERS))]
FilterId = Annotated[int | None, Query(gt=0)]

_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "only community staff and admins change the rota"},
    404: {"description": "no such rota line the caller may change"},
    409: {"description": "the same line is already on the rota"},
    422: {"description": "an input is invalid; the detail names it and says why"},
}


@router.get("/volunteers")
async def volunteers(
    _user: Supervisor,
    scope: UserScope,
    conn: Conn,
    grid_id: Annotated[int | None, Query(gt=0, description="on this grid's rota")] = None,
    community_id: Annotated[int | None, Query(gt=0, description="admins: one community")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[VolunteerPublic]:
    """Active volunteers of your community (admins: all) with the grids they serve. For
    community staff, property managers and admins."""
    items, total = await service.list_volunteers(
        conn, scope, grid_id=grid_id, community_id=community_id, limit=limit, offset=offset
    )
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/duty/rota")
async def rota(
    _user: RotaReader,
    scope: UserScope,
    conn: Conn,
    grid_id: FilterId = None,
    user_id: FilterId = None,
    position: Position | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[RotaLinePublic]:
    """Rota lines: weekday (0 = Monday, null = every day) and minutes after local midnight;
    an end at or before the start runs past midnight. Volunteers see their own lines."""
    items, total = await service.list_rota(
        conn,
        scope,
        grid_id=grid_id,
        user_id=user_id,
        position=position,
        limit=limit,
        offset=offset,
    )
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.post("/duty/rota", status_code=status.HTTP_201_CREATED, responses=_WRITE_ERRORS)
async def add_rota_line(
    request: RotaLineCreate, _writer: Writer, scope: UserScope, ctx: Context
) -> RotaLinePublic:
    """Put a volunteer or staff member of the grid's community on a grid's rota."""
    async with ctx.db.write() as conn:
        return await service.create_rota_line(conn, scope, request)


@router.patch("/duty/rota/{line_id}", responses=_WRITE_ERRORS)
async def change_rota_line(
    line_id: int, request: RotaLineUpdate, _writer: Writer, scope: UserScope, ctx: Context
) -> RotaLinePublic:
    """Change the fields sent; the changed line is checked as a new one would be."""
    async with ctx.db.write() as conn:
        return await service.update_rota_line(conn, scope, line_id, request)


@router.delete(
    "/duty/rota/{line_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_WRITE_ERRORS
)
async def remove_rota_line(
    line_id: int, _writer: Writer, scope: UserScope, ctx: Context
) -> Response:
    async with ctx.db.write() as conn:
        await service.delete_rota_line(conn, scope, line_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/duty/now", responses={404: {"description": "no such grid visible to the caller"}})
async def on_duty_now(
    _user: RotaReader,
    scope: UserScope,
    conn: Conn,
    grid_id: Annotated[int, Query(gt=0, description="a grid you may see")],
) -> OnDutyNow:
    """Who is on duty in the grid now, by position, in the order alarms reach them.
    Volunteers may ask about the grids they serve (to reach their backup, say)."""
    return await service.on_duty_now(conn, scope, grid_id, datetime.now(UTC))
