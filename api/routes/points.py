"""Points (积分): your own balance and history, a person's (for their community's staff),
and a community's leaderboard. A balance is always the sum of the ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from api.deps import Conn, Limit, Offset
from api.reader import CurrentReader
from api.security import CurrentUser, UserScope, require_roles
from hub.access.scope import scope_for
from hub.errors import Forbidden, NotFound
from hub.i18n.catalogs import N_
from hub.points import service
from hub.points.models import Leaderboard, PointsAccount
from hub.users.models import Role, UserPublic
from hub.users.service import get_user
from hub.users.words import role_words

router = APIRouter(prefix="/api/v1/points", tags=["points"])

_SUPERVISORS = (Role.ADMIN, Role.COMMUNITY_STAFF, Role.PROPERTY_MANAGER)
Supervisor = Annotated[UserPublic, Depends(require_roles(*_SUPERVISORS))]


@router.get("/me")
async def my_points(
    user: CurrentUser,
    scope: UserScope,
    conn: Conn,
    reader: CurrentReader,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PointsAccount:
    """Your balance and your ledger entries, newest first (tickets' titles in your
    language)."""
    return await service.account(
        conn, user, scope.community_id, limit=limit, offset=offset, language=reader.language
    )


@router.get(
    "/users/{user_id}",
    responses={
        403: {"description": "only staff, property managers and admins see others' points"},
        404: {"description": "no such active user in the caller's community"},
    },
)
async def user_points(
    user_id: int,
    user: CurrentUser,
    scope: UserScope,
    conn: Conn,
    reader: CurrentReader,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PointsAccount:
    """A person's balance and ledger: for staff and property managers of their community,
    and admins (anyone may read their own)."""
    if user_id != user.id and user.role not in _SUPERVISORS:
        raise Forbidden(
            N_("role %(role)s may see only their own points (GET /api/v1/points/me)"),
            role=role_words(user.role),
        )
    target = await get_user(conn, user_id)
    target_community = (await scope_for(conn, target)).community_id if target else None
    if target is None or (
        not scope.sees_everything
        and target.id != user.id
        and (target_community is None or target_community != scope.community_id)
    ):
        raise NotFound(N_("no user %(id)s in your community"), id=user_id)
    return await service.account(
        conn, target, target_community, limit=limit, offset=offset, language=reader.language
    )


@router.get("/leaderboard", responses={403: {"description": "another community's board"}})
async def leaderboard(
    user: Supervisor,
    scope: UserScope,
    conn: Conn,
    community_id: Annotated[
        int | None,
        Query(gt=0, description="default: your community; admins: every community if left out"),
    ] = None,
    since: Annotated[
        AwareDatetime | None,
        Query(description="count awards from this moment on (with a UTC offset); default: all"),
    ] = None,
    limit: Limit = 50,
) -> Leaderboard:
    """People by points earned; ties share a rank. For staff, property managers and admins."""
    if not scope.sees_everything:
        if community_id is not None and community_id != scope.community_id:
            raise Forbidden(
                N_("role %(role)s sees only the leaderboard of their own community"),
                role=role_words(user.role),
            )
        if scope.community_id is None:
            raise Forbidden(N_("your account has no community"))
        community_id = scope.community_id
    rows = await service.leaderboard(conn, community_id, since, limit=limit)
    return Leaderboard(community_id=community_id, since=since, rows=rows)
