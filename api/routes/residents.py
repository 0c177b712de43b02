"""Residents and their family contacts.

Reading: admins and community staff see whole records of their community, property
managers names and addresses, volunteers the elderly of the grids they are on the rota
for (name, address, contacts), residents their own household. Each answer says its
``view``. Writing (residents, family contacts): community staff and admins only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status

from api.deps import Conn, Context, Limit, Offset
from api.pagination import Page
from api.security import UserScope, require_roles
from hub.errors import NotFound
from hub.i18n.catalogs import N_
from hub.residents import service
from hub.residents.models import (
    FamilyContactCreate,
    FamilyContactPublic,
    FamilyContactUpdate,
    ResidentCreate,
    ResidentPublic,
    ResidentRecord,
    ResidentUpdate,
)
from hub.residents.service import ResidentFilters
from hub.users.models import UserPublic

router = APIRouter(prefix="/api/v1/residents", tags=["residents"])

Writer = Annotated[UserPublic, Depends(require_roles(*service.WRITERS))]
FilterId = Annotated[int | None, Query(gt=0)]


class ResidentPage(Page[ResidentPublic]):
    """A page of residents, each in the caller's view."""


_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "a filter on a field the caller's role does not see"},
    404: {"description": "no such resident visible to the caller"},
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "only community staff and admins change residents"},
    404: {"description": "no such resident (or family contact) the caller may change"},
    422: {"description": "an input is invalid; the detail names it and says why"},
}


@router.get("", responses={403: _READ_ERRORS[403]})
async def residents(
    scope: UserScope,
    conn: Conn,
    household_id: FilterId = None,
    building_id: FilterId = None,
    grid_id: FilterId = None,
    elderly: Annotated[
        bool | None, Query(description="staff and admins only: elderly or not")
    ] = None,
    lives_alone: Annotated[
        bool | None, Query(description="staff and admins only: living alone or not")
    ] = None,
    q: Annotated[str | None, Query(max_length=100, description="part of the name")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ResidentPage:
    """Residents the caller may see, in their role's view. Volunteers: only the elderly of
    the grids they are on the rota for. Residents: their own household."""
    filters = ResidentFilters(household_id, building_id, grid_id, elderly, lives_alone, q)
    items, total = await service.list_residents(conn, scope, filters, limit=limit, offset=offset)
    return ResidentPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/{resident_id}", responses={404: _READ_ERRORS[404]})
async def resident(scope: UserScope, conn: Conn, resident_id: int) -> ResidentPublic:
    """One resident with their family contacts (and, for staff and admins, the last signs
    of life); property managers get name and address only."""
    found = await service.get_resident(conn, scope, resident_id)
    if found is None:
        raise NotFound(N_("no resident %(id)s visible to you"), id=resident_id)
    return found


@router.post("", status_code=status.HTTP_201_CREATED, responses=_WRITE_ERRORS)
async def add_resident(
    request: ResidentCreate, _writer: Writer, scope: UserScope, ctx: Context
) -> ResidentRecord:
    """Add a resident to a household of your community (admins: any household)."""
    async with ctx.db.write() as conn:
        return await service.create_resident(conn, scope, request)


@router.patch("/{resident_id}", responses=_WRITE_ERRORS)
async def change_resident(
    resident_id: int, request: ResidentUpdate, _writer: Writer, scope: UserScope, ctx: Context
) -> ResidentRecord:
    """Change the fields sent; a new `household_id` must be in your community."""
    async with ctx.db.write() as conn:
        return await service.update_resident(conn, scope, resident_id, request)


@router.post(
    "/{resident_id}/contacts", status_code=status.HTTP_201_CREATED, responses=_WRITE_ERRORS
)
async def add_contact(
    resident_id: int,
    request: FamilyContactCreate,
    _writer: Writer,
    scope: UserScope,
    ctx: Context,
) -> FamilyContactPublic:
    """Add a family contact; the lowest `priority` is called first."""
    async with ctx.db.write() as conn:
        return await service.add_contact(conn, scope, resident_id, request)


@router.patch("/{resident_id}/contacts/{contact_id}", responses=_WRITE_ERRORS)
async def change_contact(
    resident_id: int,
    contact_id: int,
    request: FamilyContactUpdate,
    _writer: Writer,
    scope: UserScope,
    ctx: Context,
) -> FamilyContactPublic:
    async with ctx.db.write() as conn:
        return await service.update_contact(conn, scope, resident_id, contact_id, request)


@router.delete(
    "/{resident_id}/contacts/{contact_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_WRITE_ERRORS,
)
async def remove_contact(
    resident_id: int, contact_id: int, _writer: Writer, scope: UserScope, ctx: Context
) -> Response:
    async with ctx.db.write() as conn:
        await service.delete_contact(conn, scope, resident_id, contact_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
