"""Tickets: opened from alerts and routed to whoever is on duty in the grid."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from hub.access.scope import Scope
from hub.access.visibility import visible_tickets
from hub.errors import Conflict, Forbidden, InvalidInput, NotFound
from hub.i18n.catalogs import N_
from hub.i18n.said import keep
from hub.i18n.said import words as said_words
from hub.points import service as points
from hub.points.models import Award
from hub.policy.service import rules_for
from hub.schema.alerts import alerts
from hub.schema.devices import devices
from hub.schema.grid import households
from hub.schema.tickets import ticket_handlers, ticket_log, tickets
from hub.schema.users import users
from hub.tickets import words, workflow
from hub.tickets.models import (
    RESOLVING,
    RESPONDING,
    CoHandler,
    TicketAction,
    TicketLevel,
    TicketLogEntry,
    TicketPublic,
    TicketStatus,
    TransitionInputs,
)
from hub.users.models import Role, UserPublic
from hub.users.service import get_user


async def log_change(
    conn: AsyncConnection,
    ticket_id: int,
    at: datetime,
    action: str,
    *,
    actor_id: int | None = None,
    from_status: TicketStatus | None = None,
    to_status: TicketStatus | None = None,
    note: str = "",
    said: list[object] | None = None,
) -> None:
    """One line of the ticket's log: ``note`` in English (machines, older clients) and,
    when given, the same as kept messages (``said``, hub.i18n.said.keep) that each
    reader reads in their language."""
    await conn.execute(
        ticket_log.insert().values(
            ticket_id=ticket_id,
            at=at,
            actor_id=actor_id,
            action=action,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value if to_status else None,
            note=note[:1000],
            said=said,
        )
    )


def overdue(now: datetime) -> ColumnElement[bool]:
    """A time limit that still runs has passed: the response limit while the ticket waits
    to be accepted, the resolution limit until it is resolved (as the dashboard counts)."""
    responding = tickets.c.status.in_([s.value for s in RESPONDING])
    resolving = tickets.c.status.in_([s.value for s in RESOLVING])
    return sa.and_(
        resolving,
        sa.or_(
            sa.and_(responding, tickets.c.response_due_at <= now),
            tickets.c.resolve_due_at <= now,
        ),
    )


def in_building(building_id: int) -> ColumnElement[bool]:
    """The ticket concerns a building: its household's, or where its alarm's device is."""
    homes = sa.select(households.c.id).where(households.c.building_id == building_id)
    device_building = sa.func.coalesce(households.c.building_id, devices.c.building_id)
    alarms = (
        sa.select(alerts.c.id)
        .select_from(
            alerts.join(devices, devices.c.id == alerts.c.device_id).outerjoin(
                households, households.c.id == devices.c.household_id
            )
        )
        .where(device_building == building_id)
    )
    return sa.or_(tickets.c.household_id.in_(homes), tickets.c.alert_id.in_(alarms))


@dataclass(frozen=True)
class TicketFilters:
    status: TicketStatus | None = None
    level: TicketLevel | None = None
    grid_id: int | None = None
    building_id: int | None = None
    overdue: bool | None = None
    now: datetime | None = None  # for ``overdue``; default: the current time


def _filter_conditions(filters: TicketFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.status is not None:
        conditions.append(tickets.c.status == filters.status.value)
    if filters.level is not None:
        conditions.append(tickets.c.level == filters.level.value)
    if filters.grid_id is not None:
        conditions.append(tickets.c.grid_id == filters.grid_id)
    if filters.building_id is not None:
        conditions.append(in_building(filters.building_id))
    if filters.overdue is not None:
        late = overdue(filters.now or datetime.now(UTC))
        conditions.append(late if filters.overdue else ~late)
    return conditions


# What a list shows of a ticket: TicketPublic's columns (not the overdue markers).
_LIST_COLUMNS = tuple(tickets.c[name] for name in TicketPublic.model_fields if name in tickets.c)
# One validation call for the whole page, from plain dicts: a model per row from a
# row mapping cost twice as much.
_TICKET_PAGE = TypeAdapter(list[TicketPublic])


async def list_tickets(
    conn: AsyncConnection,
    scope: Scope,
    *,
    status: TicketStatus | None,
    limit: int,
    offset: int,
    level: TicketLevel | None = None,
    filters: TicketFilters | None = None,
) -> tuple[list[TicketPublic], int]:
    """The tickets the caller may see, newest first, narrowed by ``filters``."""
    filters = replace(filters or TicketFilters(), status=status, level=level)
    conditions = [c for c in (visible_tickets(scope),) if c is not None]
    conditions += _filter_conditions(filters)
    count = sa.select(sa.func.count()).select_from(tickets).where(*conditions)
    # The page and its total in one statement (the database counts once, not per row);
    # correlate(None): the count is over its own FROM tickets, not the page's row.
    result = await conn.execute(
        sa.select(*_LIST_COLUMNS, count.correlate(None).scalar_subquery().label("total"))
        .where(*conditions)
        .order_by(tickets.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    names = list(result.keys())
    rows = [dict(zip(names, row, strict=True)) for row in result]
    if rows:
        total = rows[0]["total"]
    elif offset == 0:
        total = 0
    else:  # paged past the end: the total still says how far there is to go back
        total = (await conn.execute(count)).scalar_one()
    return _TICKET_PAGE.validate_python(rows), int(total)


async def _load(
    conn: AsyncConnection, ticket_id: int, visible: ColumnElement[bool] | None
) -> TicketPublic | None:
    conditions = [c for c in (visible,) if c is not None]
    row = (
        await conn.execute(sa.select(tickets).where(tickets.c.id == ticket_id, *conditions))
    ).first()
    if row is None:
        return None
    log_rows = await conn.execute(
        sa.select(ticket_log).where(ticket_log.c.ticket_id == ticket_id).order_by(ticket_log.c.id)
    )
    ticket = TicketPublic.model_validate(dict(row._mapping))
    ticket.log = [TicketLogEntry.model_validate(dict(r._mapping)) for r in log_rows]
    ticket.co_handlers = await co_handlers_of(conn, ticket_id)
    return ticket


async def co_handlers_of(conn: AsyncConnection, ticket_id: int) -> list[CoHandler]:
    rows = await conn.execute(
        sa.select(
            ticket_handlers.c.user_id,
            users.c.full_name,
            ticket_handlers.c.note,
            ticket_handlers.c.added_at,
        )
        .select_from(ticket_handlers.join(users, users.c.id == ticket_handlers.c.user_id))
        .where(ticket_handlers.c.ticket_id == ticket_id)
        .order_by(ticket_handlers.c.added_at, ticket_handlers.c.user_id)
    )
    return [CoHandler.model_validate(dict(r._mapping)) for r in rows]


def available_actions(ticket: TicketPublic, scope: Scope) -> list[TicketAction]:
    """What the caller may do to a ticket they can see, now."""
    return workflow.available(ticket.status, scope.role, **_ownership(ticket, scope))


def is_alarm(ticket: TicketPublic) -> bool:
    """An alarm ticket: one opened from an alert (its resolution says what the alarm was)."""
    return ticket.alert_id is not None


def _ownership(ticket: TicketPublic, scope: Scope) -> dict[str, bool]:
    return {
        "is_assignee": ticket.assignee_id is not None and ticket.assignee_id == scope.user_id,
        "in_household": scope.household_id is not None
        and ticket.household_id == scope.household_id,
    }


def _with_actions(ticket: TicketPublic, scope: Scope) -> TicketPublic:
    """The ticket with what the caller may do to it now: the actions, and for each its
    target and the inputs it needs (a page renders them without a copy of the workflow)."""
    ticket.action_details = workflow.offers(
        ticket.status, scope.role, alarm=is_alarm(ticket), **_ownership(ticket, scope)
    )
    ticket.actions = [offer.action for offer in ticket.action_details]
    return ticket


async def get_ticket(conn: AsyncConnection, scope: Scope, ticket_id: int) -> TicketPublic | None:
    """A ticket with its audit trail and the caller's actions, if the caller may see it."""
    ticket = await _load(conn, ticket_id, visible_tickets(scope))
    return _with_actions(ticket, scope) if ticket is not None else None


async def load_visible(conn: AsyncConnection, scope: Scope, ticket_id: int) -> TicketPublic:
    """A ticket the caller may see, or TicketNotVisible (404)."""
    ticket = await _load(conn, ticket_id, visible_tickets(scope))
    if ticket is None:
        raise TicketNotVisible(N_("no ticket %(id)s visible to you"), id=ticket_id)
    return ticket


async def reload_for(conn: AsyncConnection, scope: Scope, ticket_id: int) -> TicketPublic:
    """A ticket just acted on, read back whatever the caller may now see, with their actions."""
    ticket = await _load(conn, ticket_id, None)
    if ticket is None:
        raise TicketNotVisible(f"no ticket {ticket_id}")
    return _with_actions(ticket, scope)


# --- The workflow: one action at a time, checked, applied and logged together.


class TicketNotVisible(NotFound):
    """No such ticket, or the caller may not see it (the two are not told apart)."""


class TicketForbidden(Forbidden):
    """The caller's role, or their relation to the ticket, does not allow this (403)."""


class TicketConflict(Conflict):
    """The ticket's state does not allow this now (409)."""


class InvalidTicketInput(InvalidInput):
    """An input is missing or wrong (422); ``field`` names it."""


class TransitionForbidden(TicketForbidden):
    """The caller's role, or their relation to the ticket, does not allow the action."""


class TransitionConflict(TicketConflict):
    """Someone else changed the ticket between reading and writing it."""


class InvalidTransitionInput(InvalidTicketInput):
    pass


def _check_allowed(
    ticket: TicketPublic, t: workflow.Transition, actor: UserPublic, scope: Scope
) -> None:
    if actor.role not in t.roles:
        roles = ", ".join(sorted(r.value for r in t.roles))
        raise TransitionForbidden(
            N_("your role (%(role)s) may not “%(action)s” tickets; that is for %(roles)s"),
            role=actor.role.value,
            action=partial(words.action_label, t.action),
            roles=roles,
        )
    if ticket.status not in t.sources:
        raise workflow.IllegalTransition(
            t.action, ticket.status, yours=available_actions(ticket, scope)
        )
    if t.owner is workflow.Owner.ASSIGNEE and ticket.assignee_id != actor.id:
        raise TransitionForbidden(
            N_(
                "only the ticket's assignee may “%(action)s” it; "
                "ticket %(id)s is not assigned to you"
            ),
            action=partial(words.action_label, t.action),
            id=ticket.id,
        )
    if t.owner is workflow.Owner.HOUSEHOLD and (
        scope.household_id is None or ticket.household_id != scope.household_id
    ):
        raise TransitionForbidden(
            N_("you may “%(action)s” only tickets of your own household"),
            action=partial(words.action_label, t.action),
        )
    if (
        scope.is_community_wide
        and ticket.community_id is not None
        and ticket.community_id != scope.community_id
    ):
        raise TransitionForbidden(
            N_("you may “%(action)s” only tickets of your own community"),
            action=partial(words.action_label, t.action),
        )


async def _check_inputs(
    conn: AsyncConnection,
    ticket: TicketPublic,
    t: workflow.Transition,
    inputs: TransitionInputs,
    now: datetime,
) -> None:
    needs = t.needs(alarm=is_alarm(ticket))
    for field in sorted(needs):
        if getattr(inputs, field.value) is None:
            if field in t.alarm_requires:
                raise InvalidTransitionInput(
                    field.value,
                    N_("required to “%(action)s” a ticket opened from an alarm: what was it?"),
                    action=partial(words.action_label, t.action),
                )
            raise InvalidTransitionInput(
                field.value,
                N_("required to “%(action)s” a ticket"),
                action=partial(words.action_label, t.action),
            )
    for field in sorted(workflow.ACTION_SPECIFIC_INPUTS - needs):
        if getattr(inputs, field.value) is not None:
            if field in t.alarm_requires:
                raise InvalidTransitionInput(
                    field.value, N_("only a ticket opened from an alarm has a disposition")
                )
            raise InvalidTransitionInput(
                field.value,
                N_("not used by “%(action)s”; leave it out"),
                action=partial(words.action_label, t.action),
            )
    if inputs.assignee_id is not None:
        assignee = await get_user(conn, inputs.assignee_id)
        if assignee is None or assignee.role is not Role.VOLUNTEER:
            raise InvalidTransitionInput(
                "assignee_id",
                N_("user %(id)s is not an active volunteer"),
                id=inputs.assignee_id,
            )
        if ticket.community_id is not None and assignee.community_id != ticket.community_id:
            raise InvalidTransitionInput(
                "assignee_id",
                N_("volunteer %(name)s is not in community %(community)s"),
                name=assignee.username,
                community=ticket.community_id,
            )
        if ticket.status is TicketStatus.RETURNED and assignee.id == _returned_by(ticket):
            raise InvalidTransitionInput(
                "assignee_id",
                N_("%(name)s returned this ticket; dispatch it to someone else"),
                name=assignee.username,
            )
    if inputs.new_due_at is not None:
        if inputs.new_due_at <= now:
            raise InvalidTransitionInput("new_due_at", N_("must be in the future"))
        if ticket.resolve_due_at is not None and inputs.new_due_at <= ticket.resolve_due_at:
            raise InvalidTransitionInput(
                "new_due_at",
                N_("must be later than the current resolve-by time, %(time)s"),
                time=ticket.resolve_due_at,
            )


def _returned_by(ticket: TicketPublic) -> int | None:
    returns = [e for e in ticket.log or [] if e.action == TicketAction.RETURN.value]
    return returns[-1].actor_id if returns else None


def _log_note(
    ticket: TicketPublic, action: TicketAction, inputs: TransitionInputs
) -> tuple[str, list[object]]:
    """The note in English (times UTC ISO, for machines) and as kept messages."""
    parts: list[str] = []
    said: list[object] = []
    if inputs.reason is not None:
        parts.append(f"reason: {inputs.reason}")
        said.append(keep(N_("reason: %(text)s"), text=inputs.reason))
    if inputs.note is not None:
        parts.append(f"note: {inputs.note}")
        said.append(keep(N_("note: %(text)s"), text=inputs.note))
    if action is TicketAction.DISPATCH:
        parts.append(f"assigned to user {inputs.assignee_id}")
        said.append(keep(N_("assigned to user %(id)s"), id=inputs.assignee_id))
    if action is TicketAction.RETURN and ticket.assignee_id is not None:
        parts.append(f"unassigned from user {ticket.assignee_id}")
        said.append(keep(N_("unassigned from user %(id)s"), id=ticket.assignee_id))
    if inputs.new_due_at is not None:
        old = ticket.resolve_due_at.isoformat() if ticket.resolve_due_at else "none"
        parts.append(f"resolve due {old} -> {inputs.new_due_at.isoformat()}")
        if ticket.resolve_due_at is not None:
            said.append(
                keep(
                    N_("resolve by %(old)s → %(new)s"),
                    old=ticket.resolve_due_at,
                    new=inputs.new_due_at,
                )
            )
        else:
            said.append(keep(N_("resolve by %(new)s"), new=inputs.new_due_at))
    if inputs.disposition is not None:
        parts.append(f"disposition: {inputs.disposition.value}")
        said.append(
            keep(
                N_("the alarm was: %(disposition)s"),
                disposition=said_words(words.DISPOSITION_WORDS[inputs.disposition]),
            )
        )
    if inputs.score is not None:
        parts.append(f"score {inputs.score}/{workflow.MAX_SCORE}")
        said.append(keep(N_("score %(score)s/%(of)s"), score=inputs.score, of=workflow.MAX_SCORE))
    return "; ".join(parts), said


async def transition(
    conn: AsyncConnection,
    ticket_id: int,
    action: TicketAction,
    actor: UserPublic,
    scope: Scope,
    inputs: TransitionInputs,
    now: datetime,
) -> TicketPublic:
    """Take one workflow action on a ticket, in the caller's write transaction.

    Raises TicketNotVisible (404), TransitionForbidden (403), IllegalTransition
    or TransitionConflict (409) and InvalidTransitionInput (422); on success the
    ticket's row and its audit entry are written together.
    """
    if scope.user_id != actor.id:
        raise ValueError("the scope must be the actor's own")
    ticket = await _load(conn, ticket_id, visible_tickets(scope))
    if ticket is None:
        raise TicketNotVisible(N_("no ticket %(id)s visible to you"), id=ticket_id)
    t = workflow.transition_for(action)
    _check_allowed(ticket, t, actor, scope)
    await _check_inputs(conn, ticket, t, inputs, now)
    target = workflow.apply(ticket.status, action)

    values: dict[str, object] = {"status": target.value, "updated_at": now}
    if action is TicketAction.DISPATCH:
        values["assignee_id"] = inputs.assignee_id
    elif action is TicketAction.RETURN:
        values["assignee_id"] = None  # back to the dispatcher; the log keeps who returned it
    elif action is TicketAction.GRANT_EXTENSION:
        values["resolve_due_at"] = inputs.new_due_at
    elif action is TicketAction.RESOLVE and inputs.disposition is not None:
        values["disposition"] = inputs.disposition.value
        values["disposed_at"] = now
    elif action is TicketAction.CLOSE:
        values["closed_at"] = now
    elif action is TicketAction.RATE:
        values["rating"] = inputs.score
    result = await conn.execute(
        tickets.update()
        .where(tickets.c.id == ticket_id, tickets.c.status == ticket.status.value)
        .values(**values)
    )
    if result.rowcount != 1:
        raise TransitionConflict(
            N_("ticket %(id)s changed while you were acting on it; reload it and try again"),
            id=ticket_id,
        )
    note, said = _log_note(ticket, action, inputs)
    if action is TicketAction.ACCEPT:
        acknowledged = await _acknowledge_alert(conn, ticket, actor, now)
        note = _join(note, acknowledged)
        if acknowledged:
            said.append([acknowledged, {}])  # not yet a catalog message: read as it is
    awarded = await _award_points(conn, ticket, action, inputs, now)
    if awarded:
        points = "points: " + ", ".join(a.describe() for a in awarded)
        note = _join(note, points)
        said.append([points, {}])
    await log_change(
        conn,
        ticket_id,
        now,
        action.value,
        actor_id=actor.id,
        from_status=ticket.status,
        to_status=target,
        note=note,
        said=said or None,
    )
    # Read back without the scope: the caller just acted on it, even if (having
    # returned it) they can no longer see it.
    updated = await _load(conn, ticket_id, None)
    assert updated is not None
    return _with_actions(updated, scope)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


async def _acknowledge_alert(
    conn: AsyncConnection, ticket: TicketPublic, actor: UserPublic, now: datetime
) -> str:
    """Accepting the ticket acknowledges its open alert (which ends its escalation chain)."""
    if ticket.alert_id is None:
        return ""
    result = await conn.execute(
        alerts.update()
        .where(alerts.c.id == ticket.alert_id, alerts.c.status == "open")
        .values(status="acknowledged", acknowledged_at=now, acknowledged_by=actor.id)
    )
    return f"alert {ticket.alert_id} acknowledged" if result.rowcount == 1 else ""


async def _award_points(
    conn: AsyncConnection,
    ticket: TicketPublic,
    action: TicketAction,
    inputs: TransitionInputs,
    now: datetime,
) -> list[Award]:
    """Points earned by this step, written to the ledger in the same transaction.

    Closure (verified → closed): the category's points to the assignee and its
    co-handler points to each co-handler. Rating: the community's bonus for the
    score to the assignee. The ledger pays each (person, ticket, reason) once.
    """
    if action is TicketAction.CLOSE:
        rules = await rules_for(conn, ticket.community_id)
        co_handler_ids = [h.user_id for h in ticket.co_handlers or []]
        awards = points.closure_awards(
            rules.category(ticket.category), ticket.assignee_id, co_handler_ids
        )
        why = f"ticket {ticket.id} closed after verification"
    elif action is TicketAction.RATE and inputs.score is not None:
        rules = await rules_for(conn, ticket.community_id)
        awards = points.rating_awards(rules, ticket.assignee_id, inputs.score)
        why = f"ticket {ticket.id} rated {inputs.score}/{workflow.MAX_SCORE}"
    else:
        return []
    return await points.record(conn, ticket.id, awards, at=now, note=why)
