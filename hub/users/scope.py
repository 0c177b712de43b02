"""What a user may see, as SQL conditions each domain's queries apply.

Scoping lives in the queries (not in filtering results afterwards), so a
page of results, a count or a single lookup can never leak across it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from hub.duty.tables import duty_rota
from hub.grid.tables import buildings, grids, households
from hub.residents.tables import residents
from hub.users.models import Role, UserPublic


@dataclass(frozen=True)
class Scope:
    user_id: int
    role: Role
    community_id: int | None
    household_id: int | None

    @property
    def sees_everything(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_community_wide(self) -> bool:
        return self.role in (Role.PROPERTY_MANAGER, Role.COMMUNITY_STAFF)


async def scope_for(conn: AsyncConnection, user: UserPublic) -> Scope:
    household_id, community_id = None, user.community_id
    if user.resident_id is not None:
        row = (
            await conn.execute(
                sa.select(residents.c.household_id, grids.c.community_id)
                .select_from(
                    residents.join(households, households.c.id == residents.c.household_id)
                    .join(buildings, buildings.c.id == households.c.building_id)
                    .join(grids, grids.c.id == buildings.c.grid_id)
                )
                .where(residents.c.id == user.resident_id)
            )
        ).first()
        if row is not None:
            household_id, community_id = row.household_id, row.community_id
    return Scope(user.id, user.role, community_id, household_id)


def grids_of_community(scope: Scope) -> sa.Select[tuple[int]]:
    return sa.select(grids.c.id).where(grids.c.community_id == scope.community_id)


def grids_on_rota(scope: Scope) -> sa.Select[tuple[int]]:
    return sa.select(duty_rota.c.grid_id).where(duty_rota.c.user_id == scope.user_id)


def nothing() -> ColumnElement[bool]:
    return sa.false()
