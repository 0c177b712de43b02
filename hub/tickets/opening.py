"""Opening a ticket: one intake for device alarms, resident reports and staff.

The category (from the community's rules) sets the time limits, the points
and who handles it; a volunteer category is dispatched through its escalation
chain (or to whoever is on duty), a staff category waits for staff to dispatch.
Time-limit reminders and overdue checks are stored timers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.model import Severity
from hub.i18n.catalogs import N_
from hub.i18n.said import every_language, keep, words, written
from hub.notifications.base import Notification, Recipients
from hub.notifications.targets import on_duty_users
from hub.policy.document import Category, Handler, RulesDocument, Target
from hub.schema.tickets import tickets
from hub.tickets import escalation, limits
from hub.tickets.models import TicketSource, TicketStatus
from hub.tickets.service import log_change
from hub.users.models import Role

_FALLBACK = Category(
    label={"zh-CN": "综合事务", "en": "General"}, response_minutes=240, resolve_minutes=4320
)


@dataclass
class OpenedTicket:
    ticket_id: int
    assignee_id: int | None
    notifications: list[Notification] = field(default_factory=list)


# Where a ticket came from, as its log says it.
_SOURCES: dict[str, str] = {
    TicketSource.RESIDENT: N_("a resident's report"),
    TicketSource.STAFF: N_("staff"),
}


class UnknownCategory(ValueError):
    def __init__(self, category: str, known: list[str]) -> None:
        super().__init__(f"unknown category {category!r}; categories: {', '.join(known)}")
        self.category, self.known = category, known


async def open_ticket(
    conn: AsyncConnection,
    *,
    rules: RulesDocument,
    category: str,
    title: str,
    description: str,
    source: TicketSource,
    community_id: int | None,
    grid_id: int | None,
    household_id: int | None,
    resident_id: int | None,
    alert_id: int | None,
    severity: Severity,
    now: datetime,
    reporter_name: str | None = None,
    reporter_phone: str | None = None,
    reported_by: int | None = None,
    silent: bool = False,
    device_kind: str | None = None,
    titles: dict[str, str] | None = None,
) -> OpenedTicket:
    """Insert, route and arm the timers of a new ticket, in the caller's transaction.

    ``titles``: the title in every language (language → text) when it was made from
    words (an alarm's rule, a category's label); ``title`` is the community's
    language's. A person's own words (staff's, a resident's) are one text."""
    cat = rules.category(category)
    if cat is None:
        if source is not TicketSource.DEVICE_ALERT:
            raise UnknownCategory(category, sorted(rules.categories))
        cat = _FALLBACK
    response_due = now + timedelta(minutes=cat.response_minutes)
    resolve_due = now + timedelta(minutes=cat.resolve_minutes)
    result = await conn.execute(
        tickets.insert().values(
            title=title[:200],
            titles={k: v[:200] for k, v in titles.items()} if titles else None,
            description=description[:2000],
            category=category,
            status=TicketStatus.REGISTERED.value,
            priority="urgent" if severity is Severity.CRITICAL else "normal",
            source=source.value,
            alert_id=alert_id,
            community_id=community_id,
            grid_id=grid_id,
            household_id=household_id,
            resident_id=resident_id,
            assignee_id=None,
            created_at=now,
            updated_at=now,
            response_due_at=response_due,
            resolve_due_at=resolve_due,
            level="grid",
            confidential=silent or cat.confidential,
            reporter_name=reporter_name,
            reporter_phone=reporter_phone,
            reported_by=reported_by,
        )
    )
    assert result.inserted_primary_key is not None
    ticket_id = int(result.inserted_primary_key[0])
    origin = f"opened from alert {alert_id}" if alert_id is not None else f"reported ({source})"
    said_origin = (
        keep(N_("opened from alert %(id)s"), id=alert_id)
        if alert_id is not None
        else keep(N_("reported (%(source)s)"), source=words(_SOURCES.get(source, str(source))))
    )
    await log_change(
        conn,
        ticket_id,
        now,
        "registered",
        actor_id=reported_by,
        to_status=TicketStatus.REGISTERED,
        note=f"{origin}; category {category}",
        # The category's label is the community's words, in the ticket's category_label.
        said=[said_origin, keep(N_("category %(name)s"), name=written(cat.label))],
    )
    await limits.arm(conn, ticket_id, cat, response_due, resolve_due, now)

    opened = OpenedTicket(ticket_id, None)
    if cat.escalation is not None:
        opened.notifications = await escalation.start(conn, ticket_id, cat.escalation, rules, now)
    elif cat.handled_by is Handler.VOLUNTEER:
        opened.notifications = await _dispatch_on_duty(conn, ticket_id, rules, now)
    row = await escalation.ticket_facts(conn, ticket_id)
    assert row is not None
    opened.assignee_id = row.assignee_id
    if row.assignee_id is None and not _tells_staff(opened):
        why = N_("device is not placed in the grid") if grid_id is None else N_("nobody on duty")
        if cat.handled_by is Handler.STAFF:
            why = N_("a staff category: for staff to dispatch")
        reason = str(why)
        await log_change(conn, ticket_id, now, "dispatch_pending", note=reason, said=[keep(why)])
    if row.assignee_id is None and community_id is not None and not _tells_staff(opened):
        opened.notifications.append(
            Notification(
                kind="ticket.unassigned",
                title=title,
                titles=titles or {},
                bodies=every_language(N_("nobody took it: dispatch it")),
                ticket_id=ticket_id,
                alert_id=alert_id,
                device_kind=device_kind,
                recipients=Recipients(roles=(Role.COMMUNITY_STAFF,), community_id=community_id),
                severity=severity,
                silent=silent,
            )
        )
    return opened


def _tells_staff(opened: OpenedTicket) -> bool:
    return any(Role.COMMUNITY_STAFF in n.recipients.roles for n in opened.notifications)


async def _dispatch_on_duty(
    conn: AsyncConnection, ticket_id: int, rules: RulesDocument, now: datetime
) -> list[Notification]:
    """No chain: a one-step chain of the primary volunteer, else the backup, with no timeout."""
    facts = await escalation.ticket_facts(conn, ticket_id)
    assert facts is not None
    for target in (Target.PRIMARY, Target.BACKUP):
        users = await on_duty_users(conn, facts.grid_id, target, now)
        if users:
            note = f"assigned to user {users[0]}, on duty in grid {facts.grid_id}"
            said = keep(
                N_("assigned to user %(user)s, on duty in grid %(grid)s"),
                user=users[0],
                grid=facts.grid_id,
            )
            return [
                await escalation.assign(
                    conn, facts, users[0], now, action="dispatched", note=note, said=[said]
                )
            ]
    return []
