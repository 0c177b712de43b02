"""Residents: how to name a device's wearer and place in a ticket; residents and their
family contacts as each role may see them, and staff's changes to them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from hub.access.scope import Scope
from hub.access.visibility import visible_residents
from hub.devices.models import DeviceContext
from hub.errors import Forbidden, InvalidInput, NotFound
from hub.grid.service import HOUSEHOLD_PLACE, household_community
from hub.i18n.catalogs import N_, gettext
from hub.i18n.formats import address, household_parts
from hub.i18n.locales import DEFAULT, SUPPORTED, supported
from hub.i18n.said import words
from hub.residents.models import (
    ActivityPublic,
    FamilyContactCreate,
    FamilyContactPublic,
    FamilyContactUpdate,
    ResidentContact,
    ResidentCreate,
    ResidentListing,
    ResidentRecord,
    ResidentUpdate,
    ResidentView,
)
from hub.schema.grid import buildings, communities, grids, households
from hub.schema.residents import family_contacts, resident_activity, residents
from hub.users.models import Role
from hub.users.words import role_words

# An alarm's place when its device is placed in no household.
UNKNOWN_PLACE = N_("unknown location")


@dataclass(frozen=True)
class WhoAndWhere:
    """The words of an alarm title about a device's wearer and place, per language."""

    who: str
    where: dict[str, str]  # language → the household's address as it reads there
    language: str  # the community's default language: the title machines keep
    zone: str | None = None  # the community's time zone, for times in titles


async def who_and_where(conn: AsyncConnection, ctx: DeviceContext) -> WhoAndWhere:
    """A person's name and address for titles; falls back to the device when unplaced.

    In Chinese the address reads from the largest place to the smallest (小区 · 楼栋 ·
    单元 · 室, hub.i18n.formats.address); in English it is the household's address as
    written (names of people and places as the community writes them, in any language).
    """
    who = ctx.name
    if ctx.resident_id is not None:
        name = (
            await conn.execute(
                sa.select(residents.c.full_name).where(residents.c.id == ctx.resident_id)
            )
        ).scalar()
        if name:
            who = str(name)
    where = {tag: gettext(tag, UNKNOWN_PLACE) for tag in SUPPORTED}
    locale: str | None = None
    zone: str | None = None
    if ctx.household_id is not None:
        row = (
            await conn.execute(
                sa.select(
                    households.c.address,
                    households.c.unit,
                    buildings.c.name.label("building"),
                    communities.c.name.label("community"),
                    communities.c.locale,
                    communities.c.timezone,
                )
                .select_from(
                    households.join(buildings, buildings.c.id == households.c.building_id)
                    .join(grids, grids.c.id == buildings.c.grid_id)
                    .join(communities, communities.c.id == grids.c.community_id)
                )
                .where(households.c.id == ctx.household_id)
            )
        ).first()
        if row:
            chinese = address((row.community, row.building, *household_parts(row.unit)))
            where = {tag: chinese if tag.startswith("zh") else row.address for tag in SUPPORTED}
            # The household's community: one statement less per alarm.
            locale, zone = row.locale, row.timezone
    if locale is None and ctx.community_id is not None:
        found = (
            await conn.execute(
                sa.select(communities.c.locale, communities.c.timezone).where(
                    communities.c.id == ctx.community_id
                )
            )
        ).first()
        if found is not None:
            locale, zone = found.locale, found.timezone
    return WhoAndWhere(who, where, supported(locale) or DEFAULT, zone)


# --- Residents as callers may see them, and staff's changes to them.
#
# Who sees whom, as SQL conditions: admins everyone; community staff and property
# managers their community; volunteers the elderly of the grids they are on the rota
# for; residents their own household. What they see of each is the view of their role
# (hub.residents.models).

_VIEWS = {
    Role.ADMIN: ResidentView.RECORD,
    Role.COMMUNITY_STAFF: ResidentView.RECORD,
    Role.PROPERTY_MANAGER: ResidentView.LISTING,
    Role.VOLUNTEER: ResidentView.CONTACT,
    Role.RESIDENT: ResidentView.CONTACT,
}
_MODELS: dict[ResidentView, type[ResidentRecord | ResidentContact | ResidentListing]] = {
    ResidentView.RECORD: ResidentRecord,
    ResidentView.CONTACT: ResidentContact,
    ResidentView.LISTING: ResidentListing,
}
# Staff and admins change residents; the others only read.
WRITERS = (Role.ADMIN, Role.COMMUNITY_STAFF)


class ResidentNotVisible(NotFound):
    """No such resident (or contact), or the caller may not see it: not told apart (404)."""


class ResidentForbidden(Forbidden):
    """The caller's role may not do this (403)."""


class InvalidResidentInput(InvalidInput):
    """An input is wrong (422); ``field`` names it."""


@dataclass(frozen=True)
class ResidentFilters:
    household_id: int | None = None
    building_id: int | None = None
    grid_id: int | None = None
    elderly: bool | None = None
    lives_alone: bool | None = None
    name_contains: str | None = None


def view_for(scope: Scope) -> ResidentView:
    return _VIEWS[scope.role]


def _writable(scope: Scope) -> ColumnElement[bool] | None:
    if scope.role not in WRITERS:
        raise ResidentForbidden(
            N_("role %(role)s may not change residents; community staff and admins may"),
            role=role_words(scope.role),
        )
    return visible_residents(scope)


def _query(*conditions: ColumnElement[bool] | None) -> sa.Select[Any]:
    return (
        sa.select(
            residents.c.id,
            residents.c.full_name,
            residents.c.phone,
            residents.c.birth_year,
            residents.c.is_elderly,
            residents.c.lives_alone,
            residents.c.household_id,
            households.c.building_id,
            buildings.c.grid_id,
            grids.c.community_id,
            households.c.unit,
            households.c.address,
        )
        .select_from(residents.join(HOUSEHOLD_PLACE, households.c.id == residents.c.household_id))
        .where(*[c for c in conditions if c is not None])
    )


_FLAG_WORDS = {
    "elderly": words(N_("elderly")),
    "lives_alone": words(N_("lives alone")),
}


def _check_filters(view: ResidentView, role: Role, filters: ResidentFilters) -> None:
    # Filtering on a field reveals it: only those who see the flags may filter on them.
    if view is ResidentView.RECORD:
        return
    for name in ("elderly", "lives_alone"):
        if getattr(filters, name) is not None:
            raise ResidentForbidden(
                N_(
                    "role %(role)s does not see residents' %(flag)s flag, so may not filter "
                    "on `%(name)s`; leave it out"
                ),
                role=role_words(role),
                flag=_FLAG_WORDS[name],
                name=name,
            )


async def list_residents(
    conn: AsyncConnection, scope: Scope, filters: ResidentFilters, *, limit: int, offset: int
) -> tuple[list[ResidentRecord | ResidentContact | ResidentListing], int]:
    view = view_for(scope)
    _check_filters(view, scope.role, filters)
    wanted: list[ColumnElement[bool] | None] = [
        visible_residents(scope),
        residents.c.household_id == filters.household_id if filters.household_id else None,
        households.c.building_id == filters.building_id if filters.building_id else None,
        buildings.c.grid_id == filters.grid_id if filters.grid_id else None,
        residents.c.is_elderly == filters.elderly if filters.elderly is not None else None,
        residents.c.lives_alone == filters.lives_alone if filters.lives_alone is not None else None,
        residents.c.full_name.icontains(filters.name_contains, autoescape=True)
        if filters.name_contains
        else None,
    ]
    query = _query(*wanted)
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(query.subquery()))
    ).scalar_one()
    rows = await conn.execute(query.order_by(residents.c.id).limit(limit).offset(offset))
    model = _MODELS[view]
    return [model.model_validate(dict(r._mapping)) for r in rows], int(total)


async def contacts_of(conn: AsyncConnection, resident_id: int) -> list[FamilyContactPublic]:
    rows = await conn.execute(
        sa.select(family_contacts)
        .where(family_contacts.c.resident_id == resident_id)
        .order_by(family_contacts.c.priority, family_contacts.c.id)
    )
    return [FamilyContactPublic.model_validate(dict(r._mapping)) for r in rows]


async def _activity_of(conn: AsyncConnection, resident_id: int) -> ActivityPublic | None:
    row = (
        await conn.execute(
            sa.select(resident_activity).where(resident_activity.c.resident_id == resident_id)
        )
    ).first()
    return ActivityPublic.model_validate(dict(row._mapping)) if row else None


async def get_resident(
    conn: AsyncConnection, scope: Scope, resident_id: int
) -> ResidentRecord | ResidentContact | ResidentListing | None:
    """One resident in the caller's view, with family contacts (and, for the record view,
    the last signs of life); None when not visible."""
    row = (
        await conn.execute(_query(residents.c.id == resident_id, visible_residents(scope)))
    ).first()
    if row is None:
        return None
    found = _MODELS[view_for(scope)].model_validate(dict(row._mapping))
    if isinstance(found, ResidentRecord | ResidentContact):
        found.contacts = await contacts_of(conn, resident_id)
    if isinstance(found, ResidentRecord):
        found.activity = await _activity_of(conn, resident_id)
    return found


async def _require_writable(conn: AsyncConnection, scope: Scope, resident_id: int) -> None:
    condition = _writable(scope)
    found = (
        await conn.execute(
            sa.select(sa.func.count()).select_from(
                _query(residents.c.id == resident_id, condition).subquery()
            )
        )
    ).scalar_one()
    if not found:
        raise ResidentNotVisible(N_("no resident %(id)s visible to you"), id=resident_id)


async def _check_household(conn: AsyncConnection, scope: Scope, household_id: int) -> None:
    community = await household_community(conn, household_id)
    if community is None:
        raise InvalidResidentInput("household_id", f"there is no household {household_id}")
    if not scope.sees_everything and community != scope.community_id:
        raise InvalidResidentInput(
            "household_id", f"household {household_id} is not in your community"
        )


async def _load(conn: AsyncConnection, scope: Scope, resident_id: int) -> ResidentRecord:
    found = await get_resident(conn, scope, resident_id)
    if not isinstance(found, ResidentRecord):  # writers see the record view
        raise ResidentNotVisible(N_("no resident %(id)s visible to you"), id=resident_id)
    return found


async def create_resident(
    conn: AsyncConnection, scope: Scope, request: ResidentCreate
) -> ResidentRecord:
    _writable(scope)
    await _check_household(conn, scope, request.household_id)
    result = await conn.execute(residents.insert().values(**request.model_dump()))
    assert result.inserted_primary_key is not None
    return await _load(conn, scope, int(result.inserted_primary_key[0]))


async def update_resident(
    conn: AsyncConnection, scope: Scope, resident_id: int, request: ResidentUpdate
) -> ResidentRecord:
    await _require_writable(conn, scope, resident_id)
    changes = request.model_dump(exclude_unset=True)
    if "household_id" in changes:
        await _check_household(conn, scope, changes["household_id"])
    if changes:
        await conn.execute(
            residents.update().where(residents.c.id == resident_id).values(**changes)
        )
    return await _load(conn, scope, resident_id)


async def add_contact(
    conn: AsyncConnection, scope: Scope, resident_id: int, request: FamilyContactCreate
) -> FamilyContactPublic:
    await _require_writable(conn, scope, resident_id)
    result = await conn.execute(
        family_contacts.insert().values(resident_id=resident_id, **request.model_dump())
    )
    assert result.inserted_primary_key is not None
    return await _contact(conn, resident_id, int(result.inserted_primary_key[0]))


async def _contact(conn: AsyncConnection, resident_id: int, contact_id: int) -> FamilyContactPublic:
    row = (
        await conn.execute(
            sa.select(family_contacts).where(
                family_contacts.c.id == contact_id, family_contacts.c.resident_id == resident_id
            )
        )
    ).first()
    if row is None:
        raise ResidentNotVisible(
            N_("resident %(id)s has no family contact %(contact)s"),
            id=resident_id,
            contact=contact_id,
        )
    return FamilyContactPublic.model_validate(dict(row._mapping))


async def update_contact(
    conn: AsyncConnection,
    scope: Scope,
    resident_id: int,
    contact_id: int,
    request: FamilyContactUpdate,
) -> FamilyContactPublic:
    await _require_writable(conn, scope, resident_id)
    await _contact(conn, resident_id, contact_id)
    changes = request.model_dump(exclude_unset=True)
    if changes:
        await conn.execute(
            family_contacts.update().where(family_contacts.c.id == contact_id).values(**changes)
        )
    return await _contact(conn, resident_id, contact_id)


async def delete_contact(
    conn: AsyncConnection, scope: Scope, resident_id: int, contact_id: int
) -> None:
    await _require_writable(conn, scope, resident_id)
    await _contact(conn, resident_id, contact_id)
    await conn.execute(family_contacts.delete().where(family_contacts.c.id == contact_id))
