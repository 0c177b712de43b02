"""The grid (street → community → grid → building → household), read-only, as far as the
caller may see it: admins everything, property managers and staff their community,
volunteers the grids they are on the rota for, residents their own household's place."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query

from api.deps import Conn, Limit, Offset
from api.pagination import Page
from api.security import UserScope
from hub.errors import NotFound
from hub.grid import service
from hub.grid.models import BuildingPublic, CommunityPublic, GridPublic, HouseholdPublic
from hub.i18n.catalogs import N_

router = APIRouter(prefix="/api/v1", tags=["grid"])

_NOT_VISIBLE: dict[int | str, dict[str, Any]] = {
    404: {"description": "nothing with that id visible to the caller"}
}
FilterId = Annotated[int | None, Query(gt=0)]
T = TypeVar("T")


# What a path names, as its refusal says it.
_NONE_VISIBLE = {
    "community": N_("no community %(id)s visible to you"),
    "grid": N_("no grid %(id)s visible to you"),
    "building": N_("no building %(id)s visible to you"),
    "household": N_("no household %(id)s visible to you"),
}


def _found(found: T | None, what: str, ident: int) -> T:
    if found is None:
        # Not told apart from "no such row": another community's existence is not revealed.
        raise NotFound(_NONE_VISIBLE[what], id=ident)
    return found


@router.get("/communities")
async def communities(
    scope: UserScope, conn: Conn, limit: Limit = 50, offset: Offset = 0
) -> Page[CommunityPublic]:
    items, total = await service.list_communities(conn, scope, limit=limit, offset=offset)
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/communities/{community_id}", responses=_NOT_VISIBLE)
async def community(scope: UserScope, conn: Conn, community_id: int) -> CommunityPublic:
    return _found(await service.get_community(conn, scope, community_id), "community", community_id)


@router.get("/grids")
async def grids(
    scope: UserScope,
    conn: Conn,
    community_id: FilterId = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[GridPublic]:
    items, total = await service.list_grids(
        conn, scope, community_id=community_id, limit=limit, offset=offset
    )
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/grids/{grid_id}", responses=_NOT_VISIBLE)
async def grid(scope: UserScope, conn: Conn, grid_id: int) -> GridPublic:
    return _found(await service.get_grid(conn, scope, grid_id), "grid", grid_id)


@router.get("/buildings")
async def buildings(
    scope: UserScope,
    conn: Conn,
    grid_id: FilterId = None,
    community_id: FilterId = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[BuildingPublic]:
    items, total = await service.list_buildings(
        conn, scope, grid_id=grid_id, community_id=community_id, limit=limit, offset=offset
    )
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/buildings/{building_id}", responses=_NOT_VISIBLE)
async def building(scope: UserScope, conn: Conn, building_id: int) -> BuildingPublic:
    return _found(await service.get_building(conn, scope, building_id), "building", building_id)


@router.get("/households")
async def households(
    scope: UserScope,
    conn: Conn,
    building_id: FilterId = None,
    grid_id: FilterId = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[HouseholdPublic]:
    """Households' addresses. Who lives there: GET /api/v1/residents?household_id=."""
    items, total = await service.list_households(
        conn, scope, building_id=building_id, grid_id=grid_id, limit=limit, offset=offset
    )
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/households/{household_id}", responses=_NOT_VISIBLE)
async def household(scope: UserScope, conn: Conn, household_id: int) -> HouseholdPublic:
    return _found(await service.get_household(conn, scope, household_id), "household", household_id)
