"""Who is on duty in a grid at a given moment, from the weekly rota in community local time;
the rota as callers may see and change it; volunteers and the grids they serve."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from hub.access.scope import Scope
from hub.access.visibility import visible_grids, visible_rota, visible_volunteers
from hub.duty.models import (
    OnDutyNow,
    OnDutyPerson,
    Position,
    RotaLineCreate,
    RotaLinePublic,
    RotaLineUpdate,
    VolunteerGrid,
    VolunteerPublic,
    check_hours,
)
from hub.errors import Conflict, Forbidden, InvalidInput, NotFound
from hub.grid.service import grid_community
from hub.grid.zones import community_zone
from hub.i18n.catalogs import N_
from hub.schema.duty import duty_rota
from hub.schema.grid import communities, grids
from hub.schema.users import users
from hub.users.models import Role
from hub.users.words import role_words


def covers(weekday: int | None, start: int, end: int, local: datetime) -> bool:
    """Whether a rota line (weekday, start/end minute) covers a local time.

    A line whose end is at or before its start runs past midnight: its second
    part belongs to the next day, so it covers early hours of weekday + 1.
    """
    minute = local.hour * 60 + local.minute
    today = local.weekday()
    if end > start:
        return (weekday is None or weekday == today) and start <= minute < end
    yesterday = (today - 1) % 7
    return ((weekday is None or weekday == today) and minute >= start) or (
        (weekday is None or weekday == yesterday) and minute < end
    )


async def on_duty(
    conn: AsyncConnection, grid_id: int, at: datetime, position: str = "primary"
) -> list[int]:
    """User ids on duty in the grid at ``at`` for that position, in rota order."""
    tz_row = (
        await conn.execute(
            sa.select(communities.c.timezone)
            .select_from(grids.join(communities))
            .where(grids.c.id == grid_id)
        )
    ).first()
    if tz_row is None:
        return []
    local = at.astimezone(community_zone(tz_row[0]))
    rows = await conn.execute(
        sa.select(
            duty_rota.c.user_id,
            duty_rota.c.weekday,
            duty_rota.c.start_minute,
            duty_rota.c.end_minute,
        )
        .where(duty_rota.c.grid_id == grid_id, duty_rota.c.position == position)
        .order_by(duty_rota.c.id)
    )
    return [r.user_id for r in rows if covers(r.weekday, r.start_minute, r.end_minute, local)]


# --- The rota as callers may see and change it, who is on duty now, and volunteers.
#
# Reading: admins everything; community staff and property managers their community's
# grids; volunteers their own lines. Changing: community staff (their community's grids)
# and admins.

WRITERS = (Role.ADMIN, Role.COMMUNITY_STAFF)
# Who may be put on a grid's rota: its community's volunteers and staff.
_ON_ROTA_ROLES = (Role.VOLUNTEER.value, Role.COMMUNITY_STAFF.value)


class RotaNotVisible(NotFound):
    """No such rota line or grid, or the caller may not see it: not told apart (404)."""


class RotaForbidden(Forbidden):
    """The caller's role may not do this (403)."""


class RotaConflict(Conflict):
    """The same line is already on the rota (409)."""


class InvalidRotaInput(InvalidInput):
    """An input is wrong (422); ``field`` names it."""


def _rota_query(*conditions: ColumnElement[bool] | None) -> sa.Select[Any]:
    return (
        sa.select(
            duty_rota.c.id,
            duty_rota.c.grid_id,
            grids.c.community_id,
            duty_rota.c.user_id,
            users.c.full_name,
            duty_rota.c.position,
            duty_rota.c.weekday,
            duty_rota.c.start_minute,
            duty_rota.c.end_minute,
        )
        .select_from(
            duty_rota.join(grids, grids.c.id == duty_rota.c.grid_id).join(
                users, users.c.id == duty_rota.c.user_id
            )
        )
        .where(*[c for c in conditions if c is not None])
    )


async def list_rota(
    conn: AsyncConnection,
    scope: Scope,
    *,
    grid_id: int | None,
    user_id: int | None,
    position: Position | None,
    limit: int,
    offset: int,
) -> tuple[list[RotaLinePublic], int]:
    query = _rota_query(
        visible_rota(scope),
        duty_rota.c.grid_id == grid_id if grid_id is not None else None,
        duty_rota.c.user_id == user_id if user_id is not None else None,
        duty_rota.c.position == position.value if position is not None else None,
    )
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(query.subquery()))
    ).scalar_one()
    rows = await conn.execute(
        query.order_by(duty_rota.c.grid_id, duty_rota.c.id).limit(limit).offset(offset)
    )
    return [RotaLinePublic.model_validate(dict(r._mapping)) for r in rows], int(total)


async def get_rota_line(conn: AsyncConnection, scope: Scope, line_id: int) -> RotaLinePublic | None:
    row = (await conn.execute(_rota_query(duty_rota.c.id == line_id, visible_rota(scope)))).first()
    return RotaLinePublic.model_validate(dict(row._mapping)) if row else None


def _check_writer(scope: Scope) -> None:
    if scope.role not in WRITERS:
        raise RotaForbidden(
            N_("role %(role)s may not change the duty rota; community staff and admins may"),
            role=role_words(scope.role),
        )


async def _checked_line(conn: AsyncConnection, scope: Scope, line: dict[str, Any]) -> None:
    """Refuse a line whose grid is not the caller's, whose person may not serve in it,
    whose hours make no sense, or that is already on the rota (apart from itself)."""
    problem = check_hours(line["start_minute"], line["end_minute"])
    if problem:
        raise InvalidRotaInput("end_minute", problem)
    community = await grid_community(conn, line["grid_id"])
    if community is None:
        raise InvalidRotaInput("grid_id", N_("there is no grid %(grid)s"), grid=line["grid_id"])
    if not scope.sees_everything and community != scope.community_id:
        raise InvalidRotaInput(
            "grid_id", N_("grid %(grid)s is not in your community"), grid=line["grid_id"]
        )
    person = (
        await conn.execute(
            sa.select(users.c.role, users.c.community_id).where(
                users.c.id == line["user_id"], users.c.is_active
            )
        )
    ).first()
    if person is None or person.role not in _ON_ROTA_ROLES or person.community_id != community:
        raise InvalidRotaInput(
            "user_id",
            N_(
                "user %(user)s is not an active volunteer or staff member of the grid's "
                "community (%(community)s)"
            ),
            user=line["user_id"],
            community=community,
        )
    same = [duty_rota.c[name] == line[name] for name in _LINE_FIELDS if name != "weekday"]
    same.append(
        duty_rota.c.weekday.is_(None)
        if line["weekday"] is None
        else duty_rota.c.weekday == line["weekday"]
    )
    if line.get("id") is not None:
        same.append(duty_rota.c.id != line["id"])
    duplicate = (await conn.execute(sa.select(duty_rota.c.id).where(*same))).first()
    if duplicate is not None:
        raise RotaConflict(
            N_("the same line is already on the rota (line %(line)s)"), line=duplicate.id
        )


_LINE_FIELDS = ("grid_id", "user_id", "position", "weekday", "start_minute", "end_minute")


async def _writable_line(conn: AsyncConnection, scope: Scope, line_id: int) -> RotaLinePublic:
    _check_writer(scope)
    found = await get_rota_line(conn, scope, line_id)
    if found is None:
        raise RotaNotVisible(N_("no rota line %(line)s visible to you"), line=line_id)
    return found


async def create_rota_line(
    conn: AsyncConnection, scope: Scope, request: RotaLineCreate
) -> RotaLinePublic:
    _check_writer(scope)
    line = request.model_dump(mode="json")
    await _checked_line(conn, scope, line)
    result = await conn.execute(duty_rota.insert().values(**line))
    assert result.inserted_primary_key is not None
    created = await get_rota_line(conn, scope, int(result.inserted_primary_key[0]))
    assert created is not None  # checked to be in the caller's community above
    return created


async def update_rota_line(
    conn: AsyncConnection, scope: Scope, line_id: int, request: RotaLineUpdate
) -> RotaLinePublic:
    current = await _writable_line(conn, scope, line_id)
    changes = request.model_dump(mode="json", exclude_unset=True)
    line = {name: getattr(current, name) for name in _LINE_FIELDS} | changes
    line["position"] = Position(line["position"]).value
    await _checked_line(conn, scope, {**line, "id": line_id})
    await conn.execute(duty_rota.update().where(duty_rota.c.id == line_id).values(**line))
    updated = await get_rota_line(conn, scope, line_id)
    assert updated is not None
    return updated


async def delete_rota_line(conn: AsyncConnection, scope: Scope, line_id: int) -> None:
    await _writable_line(conn, scope, line_id)
    await conn.execute(duty_rota.delete().where(duty_rota.c.id == line_id))


async def on_duty_now(conn: AsyncConnection, scope: Scope, grid_id: int, at: datetime) -> OnDutyNow:
    """Who is on duty in a grid the caller may see, by position (on_duty for each)."""
    in_grid = visible_grids(scope)
    seen = (
        await conn.execute(
            sa.select(grids.c.id).where(
                grids.c.id == grid_id, *[c for c in (in_grid,) if c is not None]
            )
        )
    ).first()
    if seen is None:
        raise RotaNotVisible(N_("no grid %(grid)s visible to you"), grid=grid_id)
    by_position = {p: await on_duty(conn, grid_id, at, p.value) for p in Position}
    ids = sorted({i for found in by_position.values() for i in found})
    rows = await conn.execute(
        sa.select(users.c.id, users.c.full_name, users.c.phone).where(users.c.id.in_(ids))
    )
    people = {r.id: OnDutyPerson(user_id=r.id, full_name=r.full_name, phone=r.phone) for r in rows}
    return OnDutyNow(
        grid_id=grid_id,
        at=at,
        primary=[people[i] for i in by_position[Position.PRIMARY] if i in people],
        backup=[people[i] for i in by_position[Position.BACKUP] if i in people],
        grid_worker=[people[i] for i in by_position[Position.GRID_WORKER] if i in people],
    )


async def list_volunteers(
    conn: AsyncConnection,
    scope: Scope,
    *,
    grid_id: int | None,
    community_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[VolunteerPublic], int]:
    """Active volunteers in the caller's community (admins: all), with the grids they are
    on the rota for (only grids the caller may see)."""
    conditions = [
        c
        for c in (
            users.c.role == Role.VOLUNTEER.value,
            users.c.is_active,
            visible_volunteers(scope),
            users.c.community_id == community_id if community_id is not None else None,
            users.c.id.in_(sa.select(duty_rota.c.user_id).where(duty_rota.c.grid_id == grid_id))
            if grid_id is not None
            else None,
        )
        if c is not None
    ]
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(users).where(*conditions))
    ).scalar_one()
    rows = list(
        await conn.execute(
            sa.select(
                users.c.id,
                users.c.username,
                users.c.full_name,
                users.c.phone,
                users.c.community_id,
            )
            .where(*conditions)
            .order_by(users.c.id)
            .limit(limit)
            .offset(offset)
        )
    )
    served = await _grids_served(conn, scope, [int(r.id) for r in rows])
    return [
        VolunteerPublic(
            id=r.id,
            username=r.username,
            full_name=r.full_name,
            phone=r.phone,
            community_id=r.community_id,
            grids=served.get(r.id, []),
        )
        for r in rows
    ], int(total)


async def _grids_served(
    conn: AsyncConnection, scope: Scope, user_ids: list[int]
) -> dict[int, list[VolunteerGrid]]:
    if not user_ids:
        return {}
    in_grid = visible_grids(scope)
    rows = await conn.execute(
        sa.select(duty_rota.c.user_id, grids.c.id, grids.c.name, duty_rota.c.position)
        .select_from(duty_rota.join(grids, grids.c.id == duty_rota.c.grid_id))
        .where(duty_rota.c.user_id.in_(user_ids), *[c for c in (in_grid,) if c is not None])
        .order_by(duty_rota.c.user_id, grids.c.id, duty_rota.c.id)
    )
    served: dict[int, dict[int, VolunteerGrid]] = {}
    for r in rows:
        grid = served.setdefault(r.user_id, {}).setdefault(
            r.id, VolunteerGrid(grid_id=r.id, name=r.name, positions=[])
        )
        if Position(r.position) not in grid.positions:
            grid.positions.append(Position(r.position))
    return {user_id: list(by_grid.values()) for user_id, by_grid in served.items()}
