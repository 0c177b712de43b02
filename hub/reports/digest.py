"""The daily digest of one community for one local date: pure functions of the rows."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from device_adapters.kinds import KINDS
from device_adapters.model import Severity
from hub.reports.facts import AlertFact, Overdue, TicketFact, mean_and_max, supervised_overdue
from hub.reports.models import (
    AlertKindCount,
    CommunityRef,
    DailyDigest,
    DurationStats,
    FalseAlarms,
    HourCounts,
    OverdueTicket,
    ReportWindow,
    SeverityCount,
    StateCount,
    TicketBrief,
)
from hub.reports.periods import Period
from hub.tickets.models import TicketStatus

_SEVERITY_ORDER = [s.value for s in reversed(Severity)]  # critical first
_STATE_ORDER = [s.value for s in TicketStatus]


def severity_rank(severity: str) -> int:
    return _SEVERITY_ORDER.index(severity) if severity in _SEVERITY_ORDER else len(_SEVERITY_ORDER)


def state_rank(status: str) -> int:
    return _STATE_ORDER.index(status) if status in _STATE_ORDER else len(_STATE_ORDER)


def kind_description(kind: str) -> str:
    info = KINDS.get(kind)
    return info.description if info is not None else ""


def window_of(period: Period, now: datetime) -> ReportWindow:
    as_of = period.as_of(now)
    return ReportWindow(
        label=period.label,
        first_day=period.days[0],
        last_day=period.days[-1],
        timezone=period.tz.key,
        start=period.start,
        end=period.end,
        as_of=as_of,
        partial=as_of < period.end,
        generated_at=now,
    )


def alerts_by_kind(alerts: list[AlertFact]) -> list[AlertKindCount]:
    """One row per (kind, severity), most severe then most frequent first."""
    counts = Counter((a.kind, a.severity) for a in alerts)
    silent = Counter((a.kind, a.severity) for a in alerts if a.silent)
    rows = [
        AlertKindCount(
            kind=kind,
            description=kind_description(kind),
            severity=severity,
            count=n,
            silent=silent[kind, severity],
        )
        for (kind, severity), n in counts.items()
    ]
    rows.sort(key=lambda r: (severity_rank(r.severity), -r.count, r.kind))
    return rows


def kinds_by_frequency(alerts: list[AlertFact]) -> list[str]:
    counts = Counter(a.kind for a in alerts)
    return sorted(counts, key=lambda k: (-counts[k], k))


def brief(ticket: TicketFact, as_of: datetime) -> TicketBrief:
    return TicketBrief(
        id=ticket.id,
        title=ticket.title,
        category=ticket.category,
        status=ticket.state_at(as_of),
        level=ticket.level,
        grid_name=ticket.grid_name,
        assignee_name=ticket.assignee_name,
        confidential=ticket.confidential,
        created_at=ticket.created_at,
    )


def overdue_row(late: Overdue, as_of: datetime) -> OverdueTicket:
    t = late.ticket
    closed = t.closed_at
    return OverdueTicket(
        **brief(t, as_of).model_dump(),
        response_due_at=t.response_due_at,
        resolve_due_at=t.resolve_due_at,
        response_late_s=late.response.late_by.total_seconds() if late.response else None,
        response_ongoing=late.response.ongoing if late.response else False,
        resolve_late_s=late.resolve.late_by.total_seconds() if late.resolve else None,
        resolve_ongoing=late.resolve.ongoing if late.resolve else False,
        late_s=late.late_by.total_seconds(),
        closed_at=closed if closed is not None and closed <= as_of else None,
    )


def duration_stats(tickets: list[TicketFact], which: str) -> DurationStats:
    values = []
    for t in tickets:
        value = t.time_to_close() if which == "close" else t.time_to_accept()
        if value is not None:
            values.append(value)
    mean, largest = mean_and_max(values)
    return DurationStats(count=len(values), mean_s=mean, max_s=largest)


def daily_digest(
    community: CommunityRef,
    period: Period,
    alerts: list[AlertFact],
    tickets: list[TicketFact],
    now: datetime,
    false_alarms: FalseAlarms,
) -> DailyDigest:
    window = window_of(period, now)
    as_of = window.as_of
    alerts = [a for a in alerts if period.contains(a.opened_at) and a.opened_at <= as_of]

    hours: list[Counter[str]] = [Counter() for _ in range(24)]
    for a in alerts:
        hours[period.local(a.opened_at).hour][a.kind] += 1
    severities = Counter(a.severity for a in alerts)

    registered = [t for t in tickets if period.contains(t.created_at) and t.exists_at(as_of)]
    closed = [t for t in tickets if period.contains(t.closed_at) and t.closed_by(as_of)]
    still_open = [t for t in tickets if t.open_at(as_of)]
    states = Counter(t.state_at(as_of) for t in still_open)
    in_view = {t.id for t in registered} | {t.id for t in still_open}
    raised = [t for t in tickets if t.level == "community" and t.id in in_view]

    return DailyDigest(
        community=community,
        window=window,
        alerts_total=len(alerts),
        alerts_silent=sum(1 for a in alerts if a.silent),
        alerts_by_kind=alerts_by_kind(alerts),
        alerts_by_severity=[
            SeverityCount(severity=s, count=severities[s])
            for s in sorted(severities, key=severity_rank)
        ],
        alerts_by_hour=[HourCounts(hour=h, alerts_by_kind=dict(c)) for h, c in enumerate(hours)],
        tickets_registered=len(registered),
        tickets_closed=len(closed),
        tickets_open=len(still_open),
        open_by_state=[
            StateCount(status=s, count=states[s]) for s in sorted(states, key=state_rank)
        ],
        confidential_tickets=sum(1 for t in registered if t.confidential),
        overdue=[overdue_row(o, as_of) for o in supervised_overdue(tickets, period.start, as_of)],
        community_level=[brief(t, as_of) for t in raised],
        time_to_close=duration_stats(closed, "close"),
        false_alarms=false_alarms,
    )
