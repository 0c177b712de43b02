"""Dead letters: bad device input kept with raw bytes and reason. Admins only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import Conn, Limit, Offset
from api.pagination import Page
from api.security import require_roles
from hub.deadletters.models import DeadLetterPublic
from hub.deadletters.service import list_dead_letters
from hub.users.models import Role

router = APIRouter(
    prefix="/api/v1/dead-letters",
    tags=["dead letters"],
    dependencies=[Depends(require_roles(Role.ADMIN))],
)


@router.get("")
async def dead_letters(
    conn: Conn,
    device_id: Annotated[str | None, Query(max_length=128)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[DeadLetterPublic]:
    items, total = await list_dead_letters(conn, device_id=device_id, limit=limit, offset=offset)
    return Page(items=items, total=total, limit=limit, offset=offset)
