"""What a user may see, as SQL conditions each domain's queries apply.

Scoping lives in the queries (not in filtering results afterwards), so a
page of results, a count or a single lookup can never leak across it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from hub.schema.duty import duty_rota
from hub.schema.grid import buildings, communities, grids, households
from hub.schema.residents import residents
from hub.schema.users import users
from hub.users.models import Role, UserPublic


@dataclass(frozen=True)
class Scope:
    user_id: int
    role: Role
    community_id: int | None
    household_id: int | None
    # Where the person's community is, for what they read: its default language and
    # its time zone (None: no community; the product's defaults apply).
    community_locale: str | None = None
    community_timezone: str | None = None

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
    place = None
    if community_id is not None:
        place = (
            await conn.execute(
                sa.select(communities.c.locale, communities.c.timezone).where(
                    communities.c.id == community_id
                )
            )
        ).first()
    return Scope(
        user.id,
        user.role,
        community_id,
        household_id,
        community_locale=place.locale if place is not None else None,
        community_timezone=place.timezone if place is not None else None,
    )


# Who is asking and where they live, in one statement: the API asks it on every request
# (a user row plus scope_for's query were two round trips to the database each time).
# Built once; a resident's place counts only when the whole chain to a grid exists, as
# scope_for's inner joins have it.
_USER_WITH_PLACE = (
    sa.select(
        users.c.id,
        users.c.username,
        users.c.full_name,
        users.c.role,
        users.c.phone,
        users.c.community_id,
        users.c.resident_id,
        users.c.locale,
        communities.c.locale.label("community_locale"),
        communities.c.timezone.label("community_timezone"),
        residents.c.household_id.label("resident_household_id"),
        grids.c.id.label("resident_grid_id"),
        grids.c.community_id.label("resident_community_id"),
    )
    .select_from(
        users.outerjoin(residents, residents.c.id == users.c.resident_id)
        .outerjoin(households, households.c.id == residents.c.household_id)
        .outerjoin(buildings, buildings.c.id == households.c.building_id)
        .outerjoin(grids, grids.c.id == buildings.c.grid_id)
        # The community a resident lives in, else the one a worker works for.
        .outerjoin(
            communities,
            communities.c.id == sa.func.coalesce(grids.c.community_id, users.c.community_id),
        )
    )
    .where(users.c.id == sa.bindparam("user_id"), users.c.is_active)
)


async def active_user_with_scope(
    conn: AsyncConnection, user_id: int
) -> tuple[UserPublic, Scope] | None:
    """An active user and their scope (what ``get_user`` and ``scope_for`` give together)."""
    row = (await conn.execute(_USER_WITH_PLACE, {"user_id": user_id})).first()
    if row is None:
        return None
    user = UserPublic(
        id=row.id,
        username=row.username,
        full_name=row.full_name,
        role=Role(row.role),
        phone=row.phone,
        community_id=row.community_id,
        resident_id=row.resident_id,
        locale=row.locale,
    )
    household_id, community_id = None, user.community_id
    if user.resident_id is not None and row.resident_grid_id is not None:
        household_id, community_id = row.resident_household_id, row.resident_community_id
    return user, Scope(
        user.id,
        user.role,
        community_id,
        household_id,
        community_locale=row.community_locale,
        community_timezone=row.community_timezone,
    )


def grids_of_community(scope: Scope) -> sa.Select[tuple[int]]:
    return sa.select(grids.c.id).where(grids.c.community_id == scope.community_id)


def grids_on_rota(scope: Scope) -> sa.Select[tuple[int]]:
    return sa.select(duty_rota.c.grid_id).where(duty_rota.c.user_id == scope.user_id)


def nothing() -> ColumnElement[bool]:
    return sa.false()


# --- What each role may know about, beyond where: the property's work versus elderly
# care, duress alarms and health readings. docs/auth.md explains the choices.

# Ticket categories that are the property's work: repairs, charger and gate problems,
# security at doors and locks, fire risk at piles and locks, residents' problem reports
# and the general matters staff or the property take in. Everything else (elderly_sos,
# elderly_fall, elderly_health, elderly_welfare, security_duress, a community's own new
# categories) is elderly care, confidential or unclassified, and is kept from property
# managers: least privilege until the rules document can mark a category as the
# property's (a field in hub/policy/document.Category; no migration needed, it is JSON).
PROPERTY_TICKET_CATEGORIES = frozenset(
    {"facility_repair", "fire_safety", "security", "resident_report", "general"}
)
# Alert kinds that are the property's: the health of any device (device.offline,
# device.low_battery, ...), gates, locks and chargers. Wristband (SOS, fall, heart rate,
# not worn, geofence) and welfare alerts are elderly care. Duress kinds are excluded
# separately (they are silent).
PROPERTY_ALERT_PREFIXES = ("device.", "door.", "lock.", "charger.", "gateway.")


def property_alert_kind(kind: ColumnElement[str]) -> ColumnElement[bool]:
    """The alert ``kind`` is the property's (a device's health, a gate, lock or charger)."""
    return sa.or_(*(kind.startswith(prefix, autoescape=True) for prefix in PROPERTY_ALERT_PREFIXES))


def property_ticket_category(category: ColumnElement[str]) -> ColumnElement[bool]:
    return category.in_(sorted(PROPERTY_TICKET_CATEGORIES))


def sees_care(scope: Scope) -> bool:
    """Elderly-care alerts and tickets: everyone but the property manager (each within
    their own reach: a volunteer their assignments, a resident their household)."""
    return scope.role is not Role.PROPERTY_MANAGER


def sees_silent(scope: Scope) -> bool:
    """Duress alarms are routed to community staff (and the police): staff and admins see
    them all. A volunteer sees one only when it was dispatched to them or they co-handle
    it; property managers and residents never."""
    return scope.role in (Role.ADMIN, Role.COMMUNITY_STAFF)


def sees_vitals(scope: Scope, household_id: int | None) -> bool:
    """Health readings of a wristband (heart rate, blood pressure, temperature, SpO2,
    position): admins, community staff (they supervise elderly care) and the residents of
    the wearer's household. Property managers and volunteers see the device's health only."""
    if scope.role in (Role.ADMIN, Role.COMMUNITY_STAFF):
        return True
    return (
        scope.role is Role.RESIDENT
        and scope.household_id is not None
        and household_id == scope.household_id
    )
