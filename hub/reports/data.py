"""The reports' queries: a community's alerts, tickets with their audit trail,
grids and points, for a UTC window. Read-only; results are plain facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.access.scope import property_alert_kind, property_ticket_category
from hub.i18n.locales import DEFAULT, supported
from hub.reports.facts import CLOSED_STATES, AlertFact, LogStep, TicketFact
from hub.reports.models import CommunityRef, PointsRow
from hub.schema.alerts import alerts
from hub.schema.grid import buildings, communities, grids, households
from hub.schema.points import points_ledger
from hub.schema.tickets import ticket_log, tickets
from hub.schema.users import users


@dataclass(frozen=True)
class GridRef:
    id: int
    name: str


async def load_community(conn: AsyncConnection, community_id: int) -> CommunityRef | None:
    row = (
        await conn.execute(
            sa.select(communities.c.id, communities.c.name, communities.c.timezone).where(
                communities.c.id == community_id
            )
        )
    ).first()
    if row is None:
        return None
    return CommunityRef(id=row.id, name=row.name, timezone=row.timezone)


async def community_language(conn: AsyncConnection, community_id: int) -> str:
    """The language a community's reports are written in when no reader asks: its own."""
    locale = (
        await conn.execute(sa.select(communities.c.locale).where(communities.c.id == community_id))
    ).scalar()
    return supported(locale) or DEFAULT


async def load_grids(conn: AsyncConnection, community_id: int) -> list[GridRef]:
    rows = await conn.execute(
        sa.select(grids.c.id, grids.c.name)
        .where(grids.c.community_id == community_id)
        .order_by(grids.c.id)
    )
    return [GridRef(r.id, r.name) for r in rows]


def _community_grids(community_id: int) -> sa.Select[tuple[int]]:
    return sa.select(grids.c.id).where(grids.c.community_id == community_id)


def _community_households(community_id: int) -> sa.Select[tuple[int]]:
    return (
        sa.select(households.c.id)
        .join(buildings, buildings.c.id == households.c.building_id)
        .join(grids, grids.c.id == buildings.c.grid_id)
        .where(grids.c.community_id == community_id)
    )


async def load_alerts(
    conn: AsyncConnection,
    community_id: int,
    start: datetime,
    end: datetime,
    *,
    property_only: bool = False,
) -> list[AlertFact]:
    """Alerts opened in [start, end) in the community's grids (or its households);
    ``property_only``: the property manager's share (no elderly care, no duress)."""
    only = (property_alert_kind(alerts.c.kind), alerts.c.silent.is_(False)) if property_only else ()
    rows = await conn.execute(
        sa.select(
            alerts.c.id,
            alerts.c.kind,
            alerts.c.severity,
            alerts.c.opened_at,
            alerts.c.silent,
            alerts.c.grid_id,
        )
        .where(
            sa.or_(
                alerts.c.grid_id.in_(_community_grids(community_id)),
                sa.and_(
                    alerts.c.grid_id.is_(None),
                    alerts.c.household_id.in_(_community_households(community_id)),
                ),
            ),
            alerts.c.opened_at >= start,
            alerts.c.opened_at < end,
            *only,
        )
        .order_by(alerts.c.opened_at, alerts.c.id)
    )
    return [
        AlertFact(r.id, r.kind, r.severity, r.opened_at, bool(r.silent), r.grid_id) for r in rows
    ]


async def load_tickets(
    conn: AsyncConnection,
    community_id: int,
    start: datetime,
    end: datetime,
    *,
    property_only: bool = False,
) -> list[TicketFact]:
    """Every ticket of the community that may matter to [start, end): registered before
    its end and not already closed before its start; with each one's audit trail.
    ``property_only``: only the categories that fall to the property."""
    assignee = users.alias("assignee")
    in_community = sa.or_(
        tickets.c.community_id == community_id,
        sa.and_(
            tickets.c.community_id.is_(None),
            tickets.c.grid_id.in_(_community_grids(community_id)),
        ),
    )
    # A ticket closed before the window began has not changed since (closed and rated
    # are final, and rating a ticket updates it), so it can be left out here.
    maybe_relevant = sa.or_(
        tickets.c.status.not_in(sorted(CLOSED_STATES)),
        tickets.c.updated_at >= start,
        tickets.c.closed_at >= start,
    )
    conditions: tuple[sa.ColumnElement[bool], ...] = (
        in_community,
        tickets.c.created_at < end,
        maybe_relevant,
    )
    if property_only:
        conditions += (property_ticket_category(tickets.c.category),)
    rows = (
        await conn.execute(
            sa.select(
                tickets.c.id,
                tickets.c.title,
                tickets.c.category,
                tickets.c.status,
                tickets.c.level,
                tickets.c.confidential,
                tickets.c.grid_id,
                grids.c.name.label("grid_name"),
                tickets.c.assignee_id,
                assignee.c.full_name.label("assignee_name"),
                tickets.c.created_at,
                tickets.c.updated_at,
                tickets.c.response_due_at,
                tickets.c.resolve_due_at,
                tickets.c.response_overdue_at,
                tickets.c.resolve_overdue_at,
                tickets.c.closed_at,
                tickets.c.rating,
            )
            .select_from(
                tickets.outerjoin(grids, grids.c.id == tickets.c.grid_id).outerjoin(
                    assignee, assignee.c.id == tickets.c.assignee_id
                )
            )
            .where(*conditions)
            .order_by(tickets.c.id)
        )
    ).all()
    steps: dict[int, list[LogStep]] = {}
    log_rows = await conn.execute(
        sa.select(
            ticket_log.c.ticket_id, ticket_log.c.at, ticket_log.c.action, ticket_log.c.to_status
        )
        .where(ticket_log.c.ticket_id.in_(sa.select(tickets.c.id).where(*conditions)))
        .order_by(ticket_log.c.ticket_id, ticket_log.c.at, ticket_log.c.id)
    )
    for r in log_rows:
        steps.setdefault(r.ticket_id, []).append(LogStep(r.at, r.action, r.to_status))
    return [
        TicketFact(
            id=r.id,
            title=r.title,
            category=r.category,
            status=r.status,
            level=r.level,
            confidential=bool(r.confidential),
            grid_id=r.grid_id,
            grid_name=r.grid_name,
            assignee_id=r.assignee_id,
            assignee_name=r.assignee_name,
            created_at=r.created_at,
            updated_at=r.updated_at,
            response_due_at=r.response_due_at,
            resolve_due_at=r.resolve_due_at,
            response_overdue_at=r.response_overdue_at,
            resolve_overdue_at=r.resolve_overdue_at,
            closed_at_column=r.closed_at,
            rating=r.rating,
            log=tuple(steps.get(r.id, ())),
        )
        for r in rows
    ]


async def load_points(
    conn: AsyncConnection, community_id: int, start: datetime, end: datetime, *, top: int = 10
) -> list[PointsRow]:
    """Points earned in [start, end) by the community's people, most first."""
    total = sa.func.sum(points_ledger.c.points).label("points")
    rows = await conn.execute(
        sa.select(
            users.c.id,
            users.c.full_name,
            users.c.role,
            total,
            sa.func.count(points_ledger.c.id).label("awards"),
        )
        .select_from(points_ledger.join(users, users.c.id == points_ledger.c.user_id))
        .where(
            users.c.community_id == community_id,
            points_ledger.c.at >= start,
            points_ledger.c.at < end,
        )
        .group_by(users.c.id, users.c.full_name, users.c.role)
        .order_by(total.desc(), users.c.full_name, users.c.id)
        .limit(top)
    )
    return [
        PointsRow(
            user_id=r.id, full_name=r.full_name, role=r.role, points=int(r.points), awards=r.awards
        )
        for r in rows
    ]
