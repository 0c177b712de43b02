"""Single intake (一号受理) of tickets that people report: staff, logged-in residents, and
anyone with a grid's QR code.

Device alarms open tickets in the ingest flow; all three paths end in
:func:`hub.tickets.opening.open_ticket`, which sets the time limits and routes
the ticket. This module checks what each kind of reporter may ask for.

A grid's QR code carries a token that names the grid and is signed with the
hub's secret (an HMAC), so a printed code works without a login and cannot be
altered to report into another grid.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import Severity
from hub.access.scope import PROPERTY_TICKET_CATEGORIES, Scope, sees_care
from hub.i18n.catalogs import N_, gettext
from hub.i18n.locales import DEFAULT, SUPPORTED, supported
from hub.policy.document import Category, RulesDocument
from hub.policy.service import rules_for
from hub.policy.titles import clip
from hub.schema.grid import buildings, communities, grids, households
from hub.tickets.models import ReportForm, TicketCreate, TicketSource
from hub.tickets.opening import OpenedTicket, UnknownCategory, open_ticket
from hub.tickets.service import InvalidTicketInput, TicketForbidden
from hub.users.models import Role, UserPublic

RESIDENT_DEFAULT_CATEGORY = "resident_report"
# The title of a ticket from a grid's QR code form: its category, grid and first line.
REPORT_TITLE = N_("%(category)s (%(grid)s): %(text)s")
_TOKEN = re.compile(r"^g([1-9][0-9]{0,9})\.([A-Za-z0-9_-]{16})$")
_STAFF = frozenset({Role.ADMIN, Role.COMMUNITY_STAFF, Role.PROPERTY_MANAGER})


# --- Grid QR code tokens.


def _signature(grid_id: int, secret: str) -> str:
    mac = hmac.new(secret.encode(), f"grid-report:{grid_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii")[:16]


def grid_report_token(grid_id: int, secret: str) -> str:
    """The token in a grid's QR code: ``g<grid id>.<16 characters of its HMAC>``."""
    return f"g{grid_id}.{_signature(grid_id, secret)}"


def grid_from_token(token: str, *secrets: str) -> int | None:
    """The grid a token names, or None if it is malformed or signed with none of ``secrets``
    (the current key first, then keys of codes printed earlier and not yet replaced)."""
    match = _TOKEN.match(token)
    if match is None:
        return None
    grid_id = int(match.group(1))
    for secret in secrets:
        if hmac.compare_digest(match.group(2), _signature(grid_id, secret)):
            return grid_id
    return None


# --- What may be reported where.


@dataclass(frozen=True)
class GridInfo:
    id: int
    name: str
    community_id: int


async def community_language(conn: AsyncConnection, community_id: int) -> str:
    """The community's default language: the one its stored titles are in."""
    found = (
        await conn.execute(sa.select(communities.c.locale).where(communities.c.id == community_id))
    ).scalar()
    return supported(found) or DEFAULT


async def grid_info(conn: AsyncConnection, grid_id: int) -> GridInfo | None:
    row = (
        await conn.execute(
            sa.select(grids.c.id, grids.c.name, grids.c.community_id).where(grids.c.id == grid_id)
        )
    ).first()
    return GridInfo(int(row.id), str(row.name), int(row.community_id)) if row else None


def resident_categories(rules: RulesDocument) -> dict[str, Category]:
    """The categories residents may choose: not confidential, and without an escalation
    chain (those are device alarms that must be accepted within minutes)."""
    found = {
        name: cat
        for name, cat in rules.categories.items()
        if not cat.confidential and cat.escalation is None
    }
    # The general resident category first: it is the form's default.
    return dict(sorted(found.items(), key=lambda item: item[0] != RESIDENT_DEFAULT_CATEGORY))


def _check_category(name: str, allowed: dict[str, Category], who: str) -> Category:
    category = allowed.get(name)
    if category is None:
        raise InvalidTicketInput(
            "category",
            N_("unknown category %(name)s for %(who)s; choose one of: %(allowed)s"),
            name=repr(name),
            who=who,
            allowed=", ".join(allowed) or "–",
        )
    return category


async def _household_grid(conn: AsyncConnection, household_id: int) -> int | None:
    return (
        await conn.execute(
            sa.select(buildings.c.grid_id)
            .select_from(households.join(buildings, buildings.c.id == households.c.building_id))
            .where(households.c.id == household_id)
        )
    ).scalar()


async def _open(
    conn: AsyncConnection,
    rules: RulesDocument,
    *,
    category: str,
    title: str,
    description: str,
    source: TicketSource,
    grid: GridInfo,
    household_id: int | None,
    resident_id: int | None,
    now: datetime,
    reporter_name: str | None = None,
    reporter_phone: str | None = None,
    reported_by: int | None = None,
    titles: dict[str, str] | None = None,
) -> OpenedTicket:
    try:
        return await open_ticket(
            conn,
            rules=rules,
            category=category,
            title=title,
            description=description,
            source=source,
            community_id=grid.community_id,
            grid_id=grid.id,
            household_id=household_id,
            resident_id=resident_id,
            alert_id=None,
            severity=Severity.MEDIUM,
            now=now,
            reporter_name=reporter_name,
            reporter_phone=reporter_phone,
            reported_by=reported_by,
            titles=titles,
        )
    except UnknownCategory as exc:  # checked above; kept for a rules change in between
        raise InvalidTicketInput("category", str(exc)) from None


async def open_by_user(
    conn: AsyncConnection, request: TicketCreate, actor: UserPublic, scope: Scope, now: datetime
) -> OpenedTicket:
    """A ticket taken in by staff (source ``staff``) or reported by a resident (``resident``).

    Raises TicketForbidden (403) for other roles and InvalidTicketInput (422).
    """
    if actor.role in _STAFF:
        return await _open_by_staff(conn, request, actor, scope, now)
    if actor.role is Role.RESIDENT:
        return await _open_by_resident(conn, request, actor, scope, now)
    raise TicketForbidden(
        f"role {actor.role.value} may not open tickets; staff, property managers, admins "
        "and residents may"
    )


async def _open_by_staff(
    conn: AsyncConnection, request: TicketCreate, actor: UserPublic, scope: Scope, now: datetime
) -> OpenedTicket:
    if request.grid_id is None:
        raise InvalidTicketInput("grid_id", "required: the grid the ticket belongs to")
    grid = await grid_info(conn, request.grid_id)
    if grid is None or (not scope.sees_everything and grid.community_id != scope.community_id):
        raise InvalidTicketInput("grid_id", f"grid {request.grid_id} is not in your community")
    if request.category is None:
        raise InvalidTicketInput("category", "required: one of the community's categories")
    rules = await rules_for(conn, grid.community_id)
    _check_category(request.category, dict(rules.categories), f"community {grid.community_id}")
    if not sees_care(scope) and request.category not in PROPERTY_TICKET_CATEGORIES:
        # A ticket the manager could not open afterwards: elderly care is the staff's.
        raise TicketForbidden(
            f"a property manager opens the property's tickets ("
            f"{', '.join(sorted(PROPERTY_TICKET_CATEGORIES))}); "
            f"{request.category!r} is for community staff"
        )
    if (
        request.household_id is not None
        and await _household_grid(conn, request.household_id) != grid.id
    ):
        raise InvalidTicketInput(
            "household_id", f"household {request.household_id} is not in grid {grid.id}"
        )
    return await _open(
        conn,
        rules,
        category=request.category,
        title=request.title,
        description=request.description,
        source=TicketSource.STAFF,
        grid=grid,
        household_id=request.household_id,
        resident_id=None,
        now=now,
        reported_by=actor.id,
    )


async def _open_by_resident(
    conn: AsyncConnection, request: TicketCreate, actor: UserPublic, scope: Scope, now: datetime
) -> OpenedTicket:
    for field in ("grid_id", "household_id"):
        if getattr(request, field) is not None:
            raise InvalidTicketInput(
                field, "residents report for their own household; leave it out"
            )
    grid_id = (
        await _household_grid(conn, scope.household_id) if scope.household_id is not None else None
    )
    grid = await grid_info(conn, grid_id) if grid_id is not None else None
    if grid is None:
        raise TicketForbidden("your account is not linked to a household, so it cannot report")
    rules = await rules_for(conn, grid.community_id)
    category = request.category or RESIDENT_DEFAULT_CATEGORY
    _check_category(category, resident_categories(rules), "residents")
    return await _open(
        conn,
        rules,
        category=category,
        title=request.title,
        description=request.description,
        source=TicketSource.RESIDENT,
        grid=grid,
        household_id=scope.household_id,
        resident_id=actor.resident_id,
        now=now,
        reported_by=actor.id,
    )


async def open_from_report(
    conn: AsyncConnection, grid: GridInfo, form: ReportForm, now: datetime
) -> OpenedTicket:
    """A ticket from the grid QR code's public form (source ``resident``)."""
    rules = await rules_for(conn, grid.community_id)
    category = _check_category(form.category, resident_categories(rules), "residents")
    first_line = form.description.splitlines()[0] if form.description else ""
    titles = {
        language: clip(
            gettext(
                language,
                REPORT_TITLE,
                category=category.label_in(language),
                grid=grid.name,
                text=first_line,
            )
        )
        for language in SUPPORTED
    }
    title = titles[await community_language(conn, grid.community_id)]
    return await _open(
        conn,
        rules,
        category=form.category,
        title=title,
        description=form.description,
        source=TicketSource.RESIDENT,
        grid=grid,
        household_id=None,
        resident_id=None,
        now=now,
        reporter_name=form.reporter_name,
        reporter_phone=form.reporter_phone,
        titles=titles,
    )
