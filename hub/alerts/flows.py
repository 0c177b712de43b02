"""Raising an alarm: the alert, its ticket, and who hears of it, in one transaction.

Both paths that raise alarms come here: a device event matching a rule (the
ingest batch) and a condition over time whose timer fired (the scheduler).
The notifications are returned, to be published once the transaction commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from device_adapters.kinds import KINDS
from device_adapters.model import Severity
from hub.access.scope import PROPERTY_ALERT_PREFIXES
from hub.alerts import words
from hub.alerts.repeats import AlertRepeats
from hub.alerts.service import open_or_attach_kind
from hub.devices.models import DeviceContext
from hub.grid.zones import community_zone
from hub.i18n import times
from hub.i18n.catalogs import N_, gettext, pgettext
from hub.i18n.locales import SUPPORTED
from hub.i18n.said import every_language, keep
from hub.i18n.said import words as said_words
from hub.notifications.base import Notification, Recipients
from hub.notifications.targets import reach
from hub.policy.document import Rule as AnyRule
from hub.policy.document import RulesDocument
from hub.policy.titles import DEFAULT_TITLE, DEFAULT_TITLES, NEVER_SEEN, fields_for, render
from hub.residents.service import who_and_where
from hub.schema.alerts import alerts
from hub.schema.tickets import tickets
from hub.tickets.models import TicketSource, TicketStatus
from hub.tickets.opening import OpenedTicket, open_ticket
from hub.tickets.service import log_change
from hub.users.models import Role

log = logging.getLogger(__name__)

_SUPERVISORS = (Role.COMMUNITY_STAFF, Role.PROPERTY_MANAGER)
# A critical alarm again on its open alert tells the ticket's holder, but not a watch
# resending one press: repeats closer together than this are only counted.
REPEAT_GAP = timedelta(seconds=5)


@dataclass
class Raised:
    alert_id: int
    opened: bool
    kind: str
    device_id: str
    title: str
    severity: Severity
    opened_at: datetime  # the event's received_at, as stored on the alert
    titles: dict[str, str] = field(default_factory=dict)  # language → title
    ticket: OpenedTicket | None = None
    notifications: list[Notification] = field(default_factory=list)


def is_silent(kind: str) -> bool:
    info = KINDS.get(kind)
    return info.silent if info is not None else False


async def raise_alert(
    conn: AsyncConnection,
    *,
    rules: RulesDocument,
    rule: AnyRule,
    ctx: DeviceContext,
    kind: str,
    severity: Severity,
    at: datetime,
    now: datetime,
    silent: bool = False,
    latitude: float | None = None,
    longitude: float | None = None,
    detail: dict[str, Any] | None = None,
    repeats: AlertRepeats | None = None,
) -> Raised:
    """``detail``: the rule type's own title fields (``value``, ``count``, ...).

    The title is made in every language (``titles``); ``title`` is the community's
    default language's, for machines and what reads one text only."""
    people = await who_and_where(conn, ctx)
    titles = {
        language: _title(
            rule,
            language,
            people.zone,
            {
                "who": people.who,
                "where": people.where[language],
                "device": ctx.name,
                "what": words.what(kind, language),
            },
            detail,
        )
        for language in SUPPORTED
    }
    title = titles[people.language]
    outcome = await open_or_attach_kind(
        conn,
        device_id=ctx.device_id,
        kind=kind,
        severity=severity,
        at=at,
        ctx=ctx,
        summary=title,
        titles=titles,
        silent=silent,
        rule_id=rule.id,
        latitude=latitude,
        longitude=longitude,
        repeats=repeats,
    )
    raised = Raised(
        outcome.alert_id, outcome.opened, kind, ctx.device_id, title, severity, at, titles
    )
    if not outcome.opened:
        # A repeat (counted on the alert). A person's alarm pressed again is news to
        # whoever holds its ticket: they hear of it, at most once per REPEAT_GAP.
        previous = outcome.previous_at
        if (
            severity is Severity.CRITICAL
            and previous is not None
            and _aware(at) - _aware(previous) >= REPEAT_GAP
            and rule.ticket_category
        ):
            still_open = await _open_ticket_of(conn, ctx.device_id, kind)
            if still_open is not None:
                await _tell_repeat(conn, raised, ctx, still_open, now, N_("the alarm came again"))
        return raised

    still_open = await _open_ticket_of(conn, ctx.device_id, kind) if rule.ticket_category else None
    if still_open is not None:
        # The same trouble again before its ticket was resolved: one ticket, not two.
        await _tell_repeat(
            conn,
            raised,
            ctx,
            still_open,
            now,
            N_("the trouble is back while its ticket is still open"),
            log_note=(
                f"alert {outcome.alert_id} ({kind}) opened again while this ticket is open",
                keep(
                    N_("alert %(id)s (%(kind)s) opened again while this ticket is open"),
                    id=outcome.alert_id,
                    kind=said_words(words.KIND_WORDS[kind]) if kind in words.KIND_WORDS else kind,
                ),
            ),
        )
    elif rule.ticket_category is not None:
        raised.ticket = await open_ticket(
            conn,
            rules=rules,
            category=rule.ticket_category,
            title=title,
            titles=titles,
            description="",
            source=TicketSource.DEVICE_ALERT,
            community_id=ctx.community_id,
            grid_id=ctx.grid_id,
            household_id=ctx.household_id,
            resident_id=ctx.resident_id,
            alert_id=outcome.alert_id,
            severity=severity,
            now=now,
            silent=silent,
            device_kind=kind,
        )
        raised.notifications += raised.ticket.notifications

    reached = await reach(
        conn,
        list(rule.notify),
        rules=rules,
        community_id=ctx.community_id,
        grid_id=ctx.grid_id,
        resident_id=ctx.resident_id,
        at=now,
    )
    roles = list(reached.recipients.roles)
    if severity is Severity.CRITICAL and ctx.community_id is not None:
        # Property managers are told only of what they may open: not a duress alarm
        # (hub.access.scope.sees_silent) nor elderly care (SOS, fall: sees_care).
        theirs = not silent and kind.startswith(PROPERTY_ALERT_PREFIXES)
        supervisors = _SUPERVISORS if theirs else (Role.COMMUNITY_STAFF,)
        roles += [r for r in supervisors if r not in roles]
    recipients = Recipients(
        user_ids=reached.recipients.user_ids,
        roles=tuple(roles),
        community_id=ctx.community_id,
    )
    if not recipients.empty or reached.contacts:
        raised.notifications.append(
            Notification(
                kind="alert.opened",
                title=title,
                titles=titles,
                ticket_id=raised.ticket.ticket_id if raised.ticket else None,
                alert_id=outcome.alert_id,
                device_kind=kind,
                recipients=recipients,
                severity=severity,
                silent=silent,
                contacts=reached.contacts,
            )
        )
    return raised


_UNRESOLVED = tuple(
    s.value
    for s in TicketStatus
    if s
    not in (TicketStatus.RESOLVED, TicketStatus.VERIFIED, TicketStatus.CLOSED, TicketStatus.RATED)
)


async def _tell_repeat(
    conn: AsyncConnection,
    raised: Raised,
    ctx: DeviceContext,
    ticket_id: int,
    now: datetime,
    body: str,
    *,
    log_note: tuple[str, list[object]] | None = None,
) -> None:
    """Log the repeat on the open ticket and tell its assignee (staff if nobody has it)."""
    note, said = log_note or (
        f"alert {raised.alert_id} ({raised.kind}) came again",
        keep(N_("alert %(id)s came again"), id=raised.alert_id),
    )
    await log_change(conn, ticket_id, now, "alert_repeated", note=note, said=[said])
    assignee = (
        await conn.execute(sa.select(tickets.c.assignee_id).where(tickets.c.id == ticket_id))
    ).scalar()
    tell = (
        Recipients(user_ids=(int(assignee),))
        if assignee is not None
        else Recipients(roles=(Role.COMMUNITY_STAFF,), community_id=ctx.community_id)
    )
    if tell.empty or (assignee is None and ctx.community_id is None):
        return
    raised.notifications.append(
        Notification(
            kind="ticket.alert_repeated",
            title=raised.title,
            titles=raised.titles,
            bodies=every_language(body),
            ticket_id=ticket_id,
            alert_id=raised.alert_id,
            device_kind=raised.kind,
            recipients=tell,
            severity=raised.severity,
            silent=is_silent(raised.kind),
        )
    )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def _open_ticket_of(conn: AsyncConnection, device_id: str, kind: str) -> int | None:
    """An unresolved ticket opened for an earlier alert of this device and kind."""
    found = (
        await conn.execute(
            sa.select(sa.func.max(tickets.c.id))
            .select_from(tickets.join(alerts, alerts.c.id == tickets.c.alert_id))
            .where(
                alerts.c.device_id == device_id,
                alerts.c.kind == kind,
                tickets.c.status.in_(_UNRESOLVED),
            )
        )
    ).scalar()
    return int(found) if found is not None else None


def _title(
    rule: AnyRule,
    language: str,
    zone: str | None,
    common: dict[str, str],
    detail: dict[str, Any] | None,
) -> str:
    """The rule's title in ``language``, or the default one if its template is bad
    (stored before templates were checked on saving, hub.policy.titles): an alarm is
    raised whatever its text, so this never raises."""
    template = rule.title_in(language)
    try:
        allowed = fields_for(rule.rule_type())
        fields = {k: _field(v, language, zone) for k, v in (detail or {}).items() if k in allowed}
        return render(template, {**fields, **common})
    except Exception as exc:
        log.error(
            "rule %r: bad title template %r (%s); the alarm goes out with the default title",
            rule.id,
            template,
            exc,
        )
    return render(DEFAULT_TITLES.get(language, DEFAULT_TITLE), common)


def _field(value: object, language: str, zone: str | None) -> str:
    """A rule type's own title field as a reader of ``language`` reads it: a time (a
    welfare alarm's last sign of life) in the community's zone, with its date, since
    the title is kept; words (``never seen``) in the language; numbers as they are."""
    if isinstance(value, datetime):
        tz = community_zone(zone)
        local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(tz)
        day = times.local_date(local, tz, language)
        clock = local.strftime("%H:%M")
        return pgettext(language, "date and time", "%(day)s %(time)s", day=day, time=clock)
    if value == NEVER_SEEN:
        return gettext(language, NEVER_SEEN)
    return str(value)
