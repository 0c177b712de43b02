"""A community's alarm rules, ticket categories and escalation chains: read and replace.

The document is validated as a whole (hub.policy.document); an invalid one is
refused with every problem listed, and the running rules stay as they were.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Conn, Context
from api.security import UserScope, require_roles
from hub.access.scope import Scope
from hub.errors import Forbidden, NotFound
from hub.i18n.catalogs import N_
from hub.policy.document import RulesDocument
from hub.policy.service import replace_rules, rules_for, stored_version
from hub.schema.grid import communities
from hub.users.models import Role, UserPublic
from hub.users.words import role_words

router = APIRouter(prefix="/api/v1/communities", tags=["rules"])

_READERS = (Role.ADMIN, Role.COMMUNITY_STAFF, Role.PROPERTY_MANAGER)
_EDITORS = (Role.ADMIN, Role.COMMUNITY_STAFF)


class RulesAnswer(BaseModel):
    community_id: int
    version: int = Field(description="0: the community runs the shipped defaults")
    document: RulesDocument


class RulesReplace(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expected_version: int | None = Field(
        None, ge=0, description="the version you edited; a newer one stored meanwhile is a 409"
    )
    document: RulesDocument


async def _check(conn: Conn, scope: Scope, community_id: int, allowed: tuple[Role, ...]) -> None:
    if scope.role not in allowed:
        raise Forbidden(
            N_("role %(role)s cannot do this to alarm rules"), role=role_words(scope.role)
        )
    if not scope.sees_everything and scope.community_id != community_id:
        raise Forbidden(N_("community %(id)s is not your community"), id=community_id)
    found = (
        await conn.execute(sa.select(communities.c.id).where(communities.c.id == community_id))
    ).first()
    if found is None:
        raise NotFound(N_("no community %(id)s"), id=community_id)


@router.get("/{community_id}/rules")
async def get_rules(scope: UserScope, conn: Conn, community_id: int) -> RulesAnswer:
    await _check(conn, scope, community_id, _READERS)
    return RulesAnswer(
        community_id=community_id,
        version=await stored_version(conn, community_id),
        document=await rules_for(conn, community_id),
    )


@router.put(
    "/{community_id}/rules",
    responses={
        403: {"description": "not an editor of this community's rules"},
        409: {"description": "someone stored a newer version meanwhile"},
        422: {"description": "the document is invalid; every problem is listed"},
    },
)
async def put_rules(
    _editor: Annotated[UserPublic, Depends(require_roles(*_EDITORS))],
    scope: UserScope,
    ctx: Context,
    community_id: int,
    request: RulesReplace,
) -> RulesAnswer:
    """Replace the whole document. New rules apply to what happens next; running
    escalations keep the chain they started with."""
    async with ctx.db.write() as conn:
        await _check(conn, scope, community_id, _EDITORS)
        version = await replace_rules(
            conn,
            community_id,
            request.document,
            expected_version=request.expected_version,
            user_id=scope.user_id,
            now=datetime.now(UTC),
        )
    return RulesAnswer(community_id=community_id, version=version, document=request.document)
