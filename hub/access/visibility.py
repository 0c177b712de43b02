"""Who may see which rows, as SQL conditions every domain's queries apply: one place.

Each ``visible_*`` is a condition on one table (joined as its docstring says); None
means everything. Scoping lives in the queries, not in filtering results afterwards, so
a page, a count or a single lookup can never leak across it. The roles' reach is
``hub.access.scope``; what a device says about people is ``hub.access.privacy``.
docs/auth.md has the table of who sees what.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from device_adapters.model import DeviceFamily
from hub.access.scope import (
    Scope,
    grids_of_community,
    grids_on_rota,
    nothing,
    property_alert_kind,
    property_ticket_category,
)
from hub.schema.alerts import alerts
from hub.schema.devices import devices
from hub.schema.duty import duty_rota
from hub.schema.gateways import gateways
from hub.schema.grid import buildings, communities, grids, households
from hub.schema.residents import residents
from hub.schema.tickets import ticket_handlers, tickets
from hub.schema.users import users
from hub.users.models import Role

Condition = ColumnElement[bool]


def _own_grid(household_id: int) -> sa.ScalarSelect[Any]:
    return (
        sa.select(buildings.c.grid_id)
        .join(households, households.c.building_id == buildings.c.id)
        .where(households.c.id == household_id)
        .scalar_subquery()
    )


def visible_grids(scope: Scope) -> Condition | None:
    """Which grids the caller may see, as a condition on the grids table (None: all)."""
    if scope.sees_everything:
        return None
    if scope.is_community_wide:
        if scope.community_id is None:
            return nothing()
        return grids.c.id.in_(grids_of_community(scope))
    if scope.role is Role.VOLUNTEER:
        return grids.c.id.in_(grids_on_rota(scope))
    if scope.role is Role.RESIDENT and scope.household_id is not None:
        return grids.c.id == _own_grid(scope.household_id)
    return nothing()


def visible_buildings(scope: Scope) -> Condition | None:
    """A condition on buildings joined to their grid: a resident's own building only."""
    in_grid = visible_grids(scope)
    if scope.role is Role.RESIDENT and scope.household_id is not None:
        own = (
            sa.select(households.c.building_id)
            .where(households.c.id == scope.household_id)
            .scalar_subquery()
        )
        return sa.and_(buildings.c.id == own, *[c for c in (in_grid,) if c is not None])
    return in_grid


def visible_households(scope: Scope) -> Condition | None:
    """A condition on households joined to building and grid: a resident's own only."""
    in_grid = visible_grids(scope)
    if scope.role is Role.RESIDENT and scope.household_id is not None:
        return sa.and_(
            households.c.id == scope.household_id, *[c for c in (in_grid,) if c is not None]
        )
    return in_grid


def visible_communities(scope: Scope) -> Condition | None:
    """Staff and managers: their community; volunteers and residents: those of their grids."""
    if scope.sees_everything:
        return None
    if scope.is_community_wide:
        if scope.community_id is None:
            return nothing()
        return communities.c.id == scope.community_id
    in_grid = visible_grids(scope)
    return communities.c.id.in_(
        sa.select(grids.c.community_id).where(*[c for c in (in_grid,) if c is not None])
    )


def visible_rota(scope: Scope) -> ColumnElement[bool] | None:
    """A condition on rota lines joined to their grid (None: all)."""
    if scope.sees_everything:
        return None
    if scope.is_community_wide:
        if scope.community_id is None:
            return nothing()
        return grids.c.community_id == scope.community_id
    if scope.role is Role.VOLUNTEER:
        return duty_rota.c.user_id == scope.user_id
    return nothing()


def visible_volunteers(scope: Scope) -> ColumnElement[bool] | None:
    if scope.sees_everything:
        return None
    if scope.is_community_wide and scope.community_id is not None:
        return users.c.community_id == scope.community_id
    return nothing()


def visible_residents(scope: Scope) -> ColumnElement[bool] | None:
    """Which residents the caller may see, as a condition on residents joined to their
    household, building and grid (None: all)."""
    if scope.sees_everything:
        return None
    if scope.is_community_wide:
        if scope.community_id is None:
            return nothing()
        return grids.c.community_id == scope.community_id
    if scope.role is Role.VOLUNTEER:
        return sa.and_(residents.c.is_elderly, grids.c.id.in_(grids_on_rota(scope)))
    if scope.role is Role.RESIDENT and scope.household_id is not None:
        return residents.c.household_id == scope.household_id
    return nothing()


@cache  # built once: building it (aliases, joins, cache key) was a cost per ingest batch
def device_places() -> sa.Select[Any]:
    """Devices joined to their place in the grid (through the household or the building)."""
    house_building = buildings.alias("hb")
    own_building = buildings.alias("ob")
    return sa.select(
        devices.c.id,
        devices.c.family,
        devices.c.name,
        devices.c.resident_id,
        devices.c.household_id,
        devices.c.building_id,
        devices.c.state,
        devices.c.last_seen_at,
        sa.func.coalesce(house_building.c.id, own_building.c.id).label("any_building_id"),
        grids.c.id.label("grid_id"),
        grids.c.community_id,
    ).select_from(
        devices.outerjoin(households, households.c.id == devices.c.household_id)
        .outerjoin(house_building, house_building.c.id == households.c.building_id)
        .outerjoin(own_building, own_building.c.id == devices.c.building_id)
        .outerjoin(
            grids,
            grids.c.id == sa.func.coalesce(house_building.c.grid_id, own_building.c.grid_id),
        )
    )


def visible_devices(scope: Scope) -> ColumnElement[bool] | None:
    """Which devices a caller may see, as a condition on the devices table (None: all).

    Staff and property managers: their community's (a manager looks after every
    device's health). Volunteers: those of the grids they are on the rota for.
    Residents: their household's."""
    if scope.sees_everything:
        return None
    ctx = device_places().subquery()
    if scope.is_community_wide:
        ids = sa.select(ctx.c.id).where(ctx.c.community_id == scope.community_id)
    elif scope.role is Role.VOLUNTEER:
        ids = sa.select(ctx.c.id).where(ctx.c.grid_id.in_(grids_on_rota(scope)))
    elif scope.household_id is not None:
        return devices.c.household_id == scope.household_id
    else:
        return nothing()
    return devices.c.id.in_(ids)


def visible_gateways(scope: Scope) -> ColumnElement[bool] | None:
    """The gateways a caller may see (None: all).

    A gateway has no community of its own (no column, and one edge may serve several
    communities): it belongs to a community through the devices last heard through it
    (devices.last_gateway_id). So a caller sees the gateways of the devices they may
    see; a gateway no device has spoken through yet is for admins only. Another
    community's devices sharing that gateway are not revealed: only its id and presence.
    """
    if scope.sees_everything:
        return None
    visible = visible_devices(scope)
    through = sa.select(devices.c.last_gateway_id).where(
        devices.c.last_gateway_id.is_not(None), *([visible] if visible is not None else [])
    )
    return gateways.c.id.in_(through)


def visible_chargers(scope: Scope) -> sa.Select[Any]:
    """The chargers a user may see: those of their community (admins: all)."""
    query = (
        sa.select(devices)
        .select_from(
            devices.outerjoin(buildings, buildings.c.id == devices.c.building_id).outerjoin(
                grids, grids.c.id == buildings.c.grid_id
            )
        )
        .where(devices.c.family == DeviceFamily.CHARGER.value)
        .order_by(devices.c.id)
    )
    if not scope.sees_everything:
        query = query.where(
            grids.c.community_id == scope.community_id
            if scope.community_id is not None
            else nothing()
        )
    return query


def known_kinds(scope: Scope) -> list[ColumnElement[bool]]:
    """Which alerts a role may know about at all, wherever they are: property managers
    the property's kinds and never a duress alarm. Other roles are narrowed by place
    and assignment in ``visible_alerts``; the dashboard and device filters use this too."""
    if scope.role is Role.PROPERTY_MANAGER:
        return [alerts.c.silent.is_(False), property_alert_kind(alerts.c.kind)]
    return []


def visible_alerts(scope: Scope) -> ColumnElement[bool] | None:
    """Which alerts a caller may see, as a condition on the alerts table (None: all).

    Staff: their community's (by the alert's grid). Property managers: their
    community's property alerts (``known_kinds``) and those behind tickets they
    co-handle. Volunteers: the alerts behind the tickets assigned to them or that
    they co-handle (a duress alarm too, when staff dispatched its ticket to them).
    Residents: their household's, never a duress alarm."""
    if scope.sees_everything:
        return None
    co_handled = sa.select(ticket_handlers.c.ticket_id).where(
        ticket_handlers.c.user_id == scope.user_id
    )
    if scope.is_community_wide:
        in_community = alerts.c.grid_id.in_(grids_of_community(scope))
        known = known_kinds(scope)
        if not known:
            return in_community
        joint = sa.select(tickets.c.alert_id).where(tickets.c.id.in_(co_handled))
        return sa.and_(in_community, sa.or_(sa.and_(*known), alerts.c.id.in_(joint)))
    if scope.role is Role.VOLUNTEER:
        mine = sa.select(tickets.c.alert_id).where(
            sa.or_(tickets.c.assignee_id == scope.user_id, tickets.c.id.in_(co_handled))
        )
        return alerts.c.id.in_(mine)
    if scope.household_id is not None:
        # Duress alarms are never shown to residents, their own household's included.
        return sa.and_(alerts.c.household_id == scope.household_id, alerts.c.silent.is_(False))
    return nothing()


def co_handled_by(user_id: int) -> sa.Select[tuple[int]]:
    """The ids of the tickets someone was asked to handle jointly."""
    return sa.select(ticket_handlers.c.ticket_id).where(ticket_handlers.c.user_id == user_id)


def known_tickets(scope: Scope) -> list[ColumnElement[bool]]:
    """Which tickets a role may know about at all, wherever they are: property managers
    the property's categories (repairs, chargers, security, fire risk, residents' reports),
    never elderly care and never a confidential (duress) ticket. Other roles are narrowed
    by place and assignment in ``visible_tickets``; the dashboard uses this too."""
    if scope.role is Role.PROPERTY_MANAGER:
        return [~tickets.c.confidential, property_ticket_category(tickets.c.category)]
    return []


def visible_tickets(scope: Scope) -> ColumnElement[bool] | None:
    """Which tickets a caller may see, as a condition on the tickets table (None: all).

    Staff: their community's. Property managers: their community's property tickets
    (``known_tickets``) and any they were asked to co-handle. Volunteers: the tickets
    assigned to them and those they co-handle (confidential ones included: they are
    handling them). Residents: their household's, never a confidential one.
    """
    if scope.sees_everything:
        return None
    if scope.is_community_wide:
        known = known_tickets(scope)
        if not known:
            return tickets.c.community_id == scope.community_id
        return sa.and_(
            tickets.c.community_id == scope.community_id,
            sa.or_(sa.and_(*known), tickets.c.id.in_(co_handled_by(scope.user_id))),
        )
    if scope.role is Role.VOLUNTEER:
        return sa.or_(
            tickets.c.assignee_id == scope.user_id,
            tickets.c.id.in_(co_handled_by(scope.user_id)),
        )
    if scope.household_id is not None:
        return sa.and_(tickets.c.household_id == scope.household_id, ~tickets.c.confidential)
    return nothing()
