"""Escalation chains: if nobody takes a ticket in time, the next person hears of it.

A chain is a list of steps (volunteer on duty → backup → grid worker →
community staff → family, say), each with an acknowledgement timeout and a
number of repeat notifications within it. The running state is a row in
``escalations`` and the next move is a stored timer, so a restart in the
middle resumes where it was, and a timer that fires twice (two hub
processes) is claimed only once.

Acknowledged means: the ticket was accepted (or moved on beyond dispatch), or
its alert was acknowledged or cleared. Each timer checks that before acting,
so a late timer after an acceptance does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import Severity
from hub.i18n.catalogs import N_
from hub.i18n.said import duration, keep, said_everywhere, say, words
from hub.notifications.base import Notification, Recipients
from hub.notifications.targets import ROLE_TARGETS, Reach, on_duty_users, reach
from hub.policy.document import ASSIGNING_TARGETS, EscalationStep, RulesDocument, Target
from hub.policy.service import rules_for
from hub.schema.alerts import AlertStatus, alerts
from hub.schema.tickets import escalations, tickets
from hub.tickets.models import TicketStatus
from hub.tickets.service import log_change
from hub.timers import service as timers
from hub.users.models import Role

TIMER_KIND = "escalation"
_UTC = ZoneInfo("UTC")
# Ticket states in which nobody has taken the ticket yet.
UNTAKEN = frozenset({TicketStatus.REGISTERED, TicketStatus.DISPATCHED, TicketStatus.RETURNED})


@dataclass(frozen=True)
class Why:
    """Why people hear of a ticket now: a catalog message and its values. ``str()`` is
    the English, for the ticket's log and the timer's outcome; :meth:`bodies` says it
    in every language for the notification."""

    message: str
    params: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return say(self.message, self.params, "en", ZoneInfo("UTC"))

    def bodies(self) -> dict[str, str]:
        return said_everywhere(self.message, self.params)

    def kept(self) -> list[object]:
        """As the ticket's log keeps it, for each reader to read in their language."""
        return keep(self.message, **self.params)


# Who a step reaches, as the ticket's log says it (the codes are the policy's).
_TARGETS: dict[Target, str] = {
    Target.PRIMARY: N_("the volunteer on duty"),
    Target.BACKUP: N_("the backup volunteer"),
    Target.GRID_WORKER: N_("the grid worker on duty"),
    Target.ON_DUTY: N_("everyone on duty"),
    Target.COMMUNITY_STAFF: N_("community staff"),
    Target.PROPERTY_MANAGER: N_("property managers"),
    Target.FAMILY: N_("the family"),
    Target.POLICE: N_("the police"),
}


def _told(people: Reach) -> list[list[object]]:
    """Who was told, as the log keeps it: user numbers, roles in words, outside contacts
    as they were written."""
    told: list[list[object]] = []
    if people.recipients.user_ids:
        ids = ", ".join(map(str, people.recipients.user_ids))
        told.append(keep(N_("told users %(ids)s"), ids=ids))
    for target, role in ROLE_TARGETS.items():
        if role in people.recipients.roles:
            told.append(keep(N_("told %(who)s"), who=words(_TARGETS[target])))
    for contact in people.contacts:
        who = f"{contact.relation} {contact.name} ({contact.phone})"
        told.append(keep(N_("told %(who)s"), who=who))
    return told


def _step_said(index: int, step: EscalationStep, message: str, **params: object) -> list[object]:
    """``message`` about step ``index`` of the chain, kept with the step and who it reaches."""
    return keep(
        message, n=index + 1, who=words(_TARGETS.get(step.notify, step.notify.value)), **params
    )


OPENED = Why(N_("ticket opened"))
EXHAUSTED = Why(N_("every step of the escalation chain passed without an acceptance"))


class EscalationStatus:
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    EXHAUSTED = "exhausted"


@dataclass(frozen=True)
class TicketFacts:
    """What escalation needs to know of a ticket, read once per step."""

    ticket_id: int
    title: str
    titles: dict[str, str]  # language → title (empty on tickets made before 0011)
    status: TicketStatus
    assignee_id: int | None
    community_id: int | None
    grid_id: int | None
    resident_id: int | None
    alert_id: int | None
    alert_status: AlertStatus | None
    alert_kind: str | None
    severity: Severity
    silent: bool

    @property
    def acknowledged(self) -> bool:
        if self.status not in UNTAKEN:
            return True
        return self.alert_status is not None and self.alert_status is not AlertStatus.OPEN


async def ticket_facts(conn: AsyncConnection, ticket_id: int) -> TicketFacts | None:
    row = (
        await conn.execute(
            sa.select(
                tickets.c.id,
                tickets.c.title,
                tickets.c.titles,
                tickets.c.status,
                tickets.c.assignee_id,
                tickets.c.community_id,
                tickets.c.grid_id,
                tickets.c.resident_id,
                tickets.c.alert_id,
                tickets.c.priority,
                tickets.c.confidential,
                alerts.c.status.label("alert_status"),
                alerts.c.kind.label("alert_kind"),
                alerts.c.severity.label("alert_severity"),
            )
            .select_from(tickets.outerjoin(alerts, alerts.c.id == tickets.c.alert_id))
            .where(tickets.c.id == ticket_id)
        )
    ).first()
    if row is None:
        return None
    severity = (
        Severity(row.alert_severity)
        if row.alert_severity
        else (Severity.HIGH if row.priority == "urgent" else Severity.MEDIUM)
    )
    return TicketFacts(
        ticket_id=int(row.id),
        title=row.title,
        titles=dict(row.titles or {}),
        status=TicketStatus(row.status),
        assignee_id=row.assignee_id,
        community_id=row.community_id,
        grid_id=row.grid_id,
        resident_id=row.resident_id,
        alert_id=row.alert_id,
        alert_status=AlertStatus(row.alert_status) if row.alert_status else None,
        alert_kind=row.alert_kind,
        severity=severity,
        silent=bool(row.confidential),
    )


def _key(ticket_id: int, step: int, attempt: int) -> str:
    return f"esc:{ticket_id}:{step}:{attempt}"


def _slot(step: EscalationStep) -> timedelta:
    """The wait before the next repeat or step: the timeout split into equal slots."""
    return timedelta(seconds=step.ack_timeout_s / (step.repeats + 1))


async def start(
    conn: AsyncConnection,
    ticket_id: int,
    chain_name: str,
    rules: RulesDocument,
    now: datetime,
) -> list[Notification]:
    """Begin a chain for a newly opened ticket: run its first step now."""
    steps = rules.escalation_chains[chain_name]
    await conn.execute(
        escalations.insert().values(
            ticket_id=ticket_id,
            chain=chain_name,
            steps=[s.model_dump(mode="json") for s in steps],
            step=0,
            attempt=0,
            status=EscalationStatus.ACTIVE,
            started_at=now,
            updated_at=now,
        )
    )
    facts = await ticket_facts(conn, ticket_id)
    assert facts is not None
    return await _run(conn, facts, steps, 0, 0, rules, now, why=OPENED)


async def on_timer(
    conn: AsyncConnection, payload: dict[str, Any], now: datetime
) -> tuple[str, list[Notification]]:
    """A stored escalation timer fired: repeat, move to the next step, or stop."""
    ticket_id, step, attempt = (
        int(payload["ticket_id"]),
        int(payload["step"]),
        int(payload["attempt"]),
    )
    row = (
        await conn.execute(sa.select(escalations).where(escalations.c.ticket_id == ticket_id))
    ).first()
    if row is None or row.status != EscalationStatus.ACTIVE:
        return "escalation no longer active", []
    facts = await ticket_facts(conn, ticket_id)
    if facts is None:
        return "ticket gone", []
    if facts.acknowledged:
        await _set(conn, ticket_id, status=EscalationStatus.ACKNOWLEDGED, now=now)
        return f"acknowledged (ticket {facts.status.value})", []
    steps = [EscalationStep.model_validate(s) for s in row.steps]
    rules = await rules_for(conn, facts.community_id)
    previous = steps[step - 1] if attempt == 0 and step > 0 else steps[step]
    why = (
        Why(N_("no acceptance within %(span)s"), {"span": duration(previous.ack_timeout_s)})
        if attempt == 0
        else Why(N_("reminder %(n)s of %(of)s"), {"n": attempt, "of": steps[step].repeats})
    )
    notes = await _run(conn, facts, steps, step, attempt, rules, now, why=why)
    return f"step {step} attempt {attempt}: {why}", notes


async def _set(conn: AsyncConnection, ticket_id: int, *, now: datetime, **values: Any) -> None:
    await conn.execute(
        escalations.update()
        .where(escalations.c.ticket_id == ticket_id)
        .values(updated_at=now, **values)
    )


async def _run(
    conn: AsyncConnection,
    facts: TicketFacts,
    steps: list[EscalationStep],
    index: int,
    attempt: int,
    rules: RulesDocument,
    now: datetime,
    *,
    why: Why,
) -> list[Notification]:
    """Carry out step ``index`` (skipping steps that reach nobody) and arm the next timer."""
    notes: list[Notification] = []
    while index < len(steps):
        step = steps[index]
        if attempt > 0:
            note = _repeat(facts, step, index, attempt, why)
            if note is not None:
                notes.append(note)
            break
        done = await _first_time(conn, facts, step, index, rules, now, why)
        if done:
            notes += done
            break
        await log_change(
            conn,
            facts.ticket_id,
            now,
            "escalation_skipped",
            note=f"step {index + 1} ({step.notify.value}): nobody to reach",
            said=[_step_said(index, step, N_("step %(n)s (%(who)s): nobody to reach"))],
        )
        index += 1
    if index >= len(steps):
        await _set(conn, facts.ticket_id, status=EscalationStatus.EXHAUSTED, now=now)
        await log_change(
            conn,
            facts.ticket_id,
            now,
            "escalation_exhausted",
            note=f"{why}; no step left",
            said=[why.kept(), keep(N_("no step left"))],
        )
        if facts.community_id is not None:
            notes.append(
                _notification(
                    facts,
                    "ticket.escalation_exhausted",
                    Recipients(roles=(Role.COMMUNITY_STAFF,), community_id=facts.community_id),
                    bodies=EXHAUSTED.bodies(),
                )
            )
        return notes
    step = steps[index]
    await _set(conn, facts.ticket_id, step=index, attempt=attempt, now=now)
    if attempt < step.repeats:
        nxt_step, nxt_attempt = index, attempt + 1
    else:
        nxt_step, nxt_attempt = index + 1, 0
    await timers.schedule(
        conn,
        _key(facts.ticket_id, nxt_step, nxt_attempt),
        TIMER_KIND,
        now + _slot(step),
        {"ticket_id": facts.ticket_id, "step": nxt_step, "attempt": nxt_attempt},
        now,
    )
    return notes


async def assign(
    conn: AsyncConnection,
    facts: TicketFacts,
    assignee: int,
    now: datetime,
    *,
    action: str,
    note: str,
    said: list[object] | None = None,
    bodies: dict[str, str] | None = None,
) -> Notification:
    """Dispatch a ticket nobody has taken to a volunteer on duty, and tell them."""
    if facts.status in UNTAKEN:
        await conn.execute(
            tickets.update()
            .where(tickets.c.id == facts.ticket_id)
            .values(assignee_id=assignee, status=TicketStatus.DISPATCHED.value, updated_at=now)
        )
        await log_change(
            conn,
            facts.ticket_id,
            now,
            action,
            from_status=facts.status,
            to_status=TicketStatus.DISPATCHED,
            note=note,
            said=said,
        )
    return _notification(facts, "ticket.assigned", Recipients(user_ids=(assignee,)), bodies=bodies)


async def _first_time(
    conn: AsyncConnection,
    facts: TicketFacts,
    step: EscalationStep,
    index: int,
    rules: RulesDocument,
    now: datetime,
    why: Why,
) -> list[Notification]:
    """Reach a step's people for the first time; empty if the step reaches nobody."""
    label = f"step {index + 1} ({step.notify.value})"
    if step.notify in ASSIGNING_TARGETS:
        candidates = await on_duty_users(conn, facts.grid_id, step.notify, now)
        candidates = [c for c in candidates if c != facts.assignee_id] or candidates
        if not candidates:
            return []
        note = f"{label}: assigned to user {candidates[0]}, on duty in grid {facts.grid_id}"
        said: list[object] = [
            _step_said(
                index,
                step,
                N_("step %(n)s (%(who)s): assigned to user %(user)s, on duty in grid %(grid)s"),
                user=candidates[0],
                grid=facts.grid_id,
            )
        ]
        assigned = await assign(
            conn,
            facts,
            candidates[0],
            now,
            action="dispatched" if index == 0 else "escalated",
            note=note if index == 0 else f"{note} ({why})",
            said=said if index == 0 else [*said, why.kept()],
            bodies=why.bodies() if index > 0 else None,
        )
        before = facts.assignee_id
        if before is None or before == candidates[0] or facts.status not in UNTAKEN:
            return [assigned]
        # The one it was taken from still has it on their page: tell them it moved, or
        # they tap "Accept" on a ticket they may no longer see.
        moved = _notification(
            facts,
            "ticket.reassigned",
            Recipients(user_ids=(before,)),
            bodies={
                tag: say(N_("given to someone else: %(why)s"), {"why": text}, tag, _UTC)
                for tag, text in why.bodies().items()
            },
        )
        return [assigned, moved]
    people = await reach(
        conn,
        [step.notify],
        rules=rules,
        community_id=facts.community_id,
        grid_id=facts.grid_id,
        resident_id=facts.resident_id,
        at=now,
    )
    if people.empty:
        return []
    await log_change(
        conn,
        facts.ticket_id,
        now,
        "escalated",
        note=f"{label}: {why}; told {people.describe()}",
        said=[
            _step_said(index, step, N_("step %(n)s (%(who)s)")),
            why.kept(),
            *_told(people),
        ],
    )
    return [
        _notification(
            facts,
            "ticket.escalated",
            people.recipients,
            bodies=why.bodies(),
            contacts=people.contacts,
        )
    ]


def _repeat(
    facts: TicketFacts, step: EscalationStep, index: int, attempt: int, why: Why
) -> Notification | None:
    """Tell the step's people again (the assignee, for a volunteer step)."""
    if step.notify in ASSIGNING_TARGETS:
        if facts.assignee_id is None:
            return None
        return _notification(
            facts, "ticket.reminder", Recipients(user_ids=(facts.assignee_id,)), bodies=why.bodies()
        )
    return None if facts.community_id is None else _repeat_roles(facts, step, why)


def _repeat_roles(facts: TicketFacts, step: EscalationStep, why: Why) -> Notification | None:
    role = ROLE_TARGETS.get(step.notify)
    if role is None:
        return None  # on-duty workers and outside contacts are told once per step
    return _notification(
        facts,
        "ticket.reminder",
        Recipients(roles=(role,), community_id=facts.community_id),
        bodies=why.bodies(),
    )


def _notification(
    facts: TicketFacts,
    kind: str,
    recipients: Recipients,
    *,
    bodies: dict[str, str] | None = None,
    contacts: tuple[Any, ...] = (),
) -> Notification:
    return Notification(
        kind=kind,
        title=facts.title,
        titles=facts.titles,
        bodies=bodies or {},
        ticket_id=facts.ticket_id,
        alert_id=facts.alert_id,
        device_kind=facts.alert_kind,
        recipients=recipients,
        severity=facts.severity,
        silent=facts.silent,
        contacts=contacts,
    )
