"""The grid as far as a caller may see it.

Who sees which part, as SQL conditions (so a page, a count or a single lookup
never crosses them):

* admins: everything;
* property managers and community staff: their community;
* volunteers: the grids they are on the duty rota for, and those grids'
  buildings, households (addresses) and community;
* residents: their own household, its building, its grid and its community.
"""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from hub.access.scope import Scope
from hub.access.visibility import (
    visible_buildings,
    visible_communities,
    visible_grids,
    visible_households,
)
from hub.grid.models import BuildingPublic, CommunityPublic, GridPublic, HouseholdPublic
from hub.schema.grid import buildings, communities, grids, households, streets

M = TypeVar("M", bound=BaseModel)
Condition = ColumnElement[bool]


_BUILDING_PLACE = buildings.join(grids, grids.c.id == buildings.c.grid_id)
HOUSEHOLD_PLACE = households.join(buildings, buildings.c.id == households.c.building_id).join(
    grids, grids.c.id == buildings.c.grid_id
)


async def _page(
    conn: AsyncConnection,
    query: sa.Select[Any],
    conditions: list[Condition | None],
    model: type[M],
    *,
    limit: int,
    offset: int,
) -> tuple[list[M], int]:
    where = [c for c in conditions if c is not None]
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(query.where(*where).subquery()))
    ).scalar_one()
    rows = await conn.execute(query.where(*where).limit(limit).offset(offset))
    return [model.model_validate(dict(r._mapping)) for r in rows], int(total)


async def _one(
    conn: AsyncConnection, query: sa.Select[Any], conditions: list[Condition | None], model: type[M]
) -> M | None:
    row = (await conn.execute(query.where(*[c for c in conditions if c is not None]))).first()
    return model.model_validate(dict(row._mapping)) if row else None


def _communities_query() -> sa.Select[Any]:
    return (
        sa.select(
            communities.c.id,
            communities.c.name,
            communities.c.street_id,
            streets.c.name.label("street"),
            communities.c.timezone,
        )
        .select_from(communities.join(streets, streets.c.id == communities.c.street_id))
        .order_by(communities.c.id)
    )


def _grids_query() -> sa.Select[Any]:
    return sa.select(grids.c.id, grids.c.community_id, grids.c.name).order_by(grids.c.id)


def _buildings_query() -> sa.Select[Any]:
    return (
        sa.select(buildings.c.id, buildings.c.grid_id, grids.c.community_id, buildings.c.name)
        .select_from(_BUILDING_PLACE)
        .order_by(buildings.c.id)
    )


def _households_query() -> sa.Select[Any]:
    return (
        sa.select(
            households.c.id,
            households.c.building_id,
            buildings.c.grid_id,
            grids.c.community_id,
            households.c.unit,
            households.c.address,
        )
        .select_from(HOUSEHOLD_PLACE)
        .order_by(households.c.id)
    )


async def list_communities(
    conn: AsyncConnection, scope: Scope, *, limit: int, offset: int
) -> tuple[list[CommunityPublic], int]:
    return await _page(
        conn,
        _communities_query(),
        [visible_communities(scope)],
        CommunityPublic,
        limit=limit,
        offset=offset,
    )


async def get_community(
    conn: AsyncConnection, scope: Scope, community_id: int
) -> CommunityPublic | None:
    return await _one(
        conn,
        _communities_query(),
        [communities.c.id == community_id, visible_communities(scope)],
        CommunityPublic,
    )


async def list_grids(
    conn: AsyncConnection, scope: Scope, *, community_id: int | None, limit: int, offset: int
) -> tuple[list[GridPublic], int]:
    wanted = grids.c.community_id == community_id if community_id is not None else None
    return await _page(
        conn,
        _grids_query(),
        [visible_grids(scope), wanted],
        GridPublic,
        limit=limit,
        offset=offset,
    )


async def get_grid(conn: AsyncConnection, scope: Scope, grid_id: int) -> GridPublic | None:
    return await _one(
        conn, _grids_query(), [grids.c.id == grid_id, visible_grids(scope)], GridPublic
    )


async def list_buildings(
    conn: AsyncConnection,
    scope: Scope,
    *,
    grid_id: int | None,
    community_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[BuildingPublic], int]:
    return await _page(
        conn,
        _buildings_query(),
        [
            visible_buildings(scope),
            buildings.c.grid_id == grid_id if grid_id is not None else None,
            grids.c.community_id == community_id if community_id is not None else None,
        ],
        BuildingPublic,
        limit=limit,
        offset=offset,
    )


async def get_building(
    conn: AsyncConnection, scope: Scope, building_id: int
) -> BuildingPublic | None:
    return await _one(
        conn,
        _buildings_query(),
        [buildings.c.id == building_id, visible_buildings(scope)],
        BuildingPublic,
    )


async def list_households(
    conn: AsyncConnection,
    scope: Scope,
    *,
    building_id: int | None,
    grid_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[HouseholdPublic], int]:
    return await _page(
        conn,
        _households_query(),
        [
            visible_households(scope),
            households.c.building_id == building_id if building_id is not None else None,
            buildings.c.grid_id == grid_id if grid_id is not None else None,
        ],
        HouseholdPublic,
        limit=limit,
        offset=offset,
    )


async def get_household(
    conn: AsyncConnection, scope: Scope, household_id: int
) -> HouseholdPublic | None:
    return await _one(
        conn,
        _households_query(),
        [households.c.id == household_id, visible_households(scope)],
        HouseholdPublic,
    )


async def household_community(conn: AsyncConnection, household_id: int) -> int | None:
    """The community a household belongs to, or None when there is no such household."""
    found = (
        await conn.execute(
            sa.select(grids.c.community_id)
            .select_from(HOUSEHOLD_PLACE)
            .where(households.c.id == household_id)
        )
    ).first()
    return int(found.community_id) if found else None


async def grid_community(conn: AsyncConnection, grid_id: int) -> int | None:
    """The community a grid belongs to, or None when there is no such grid."""
    found = (
        await conn.execute(sa.select(grids.c.community_id).where(grids.c.id == grid_id))
    ).first()
    return int(found.community_id) if found else None
