"""The weekly bulletin of one community for one ISO week: pure functions of the rows."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from hub.reports.data import GridRef
from hub.reports.digest import duration_stats, kinds_by_frequency, window_of
from hub.reports.facts import AlertFact, TicketFact, supervised_overdue
from hub.reports.models import (
    CommunityRef,
    DayCounts,
    FalseAlarms,
    GridRow,
    PointsRow,
    RateStats,
    RatingStats,
    WeeklyBulletin,
)
from hub.reports.periods import Period

NO_GRID = "(no grid)"


def rate(numerator: int, denominator: int) -> RateStats:
    return RateStats(
        numerator=numerator,
        denominator=denominator,
        rate=numerator / denominator if denominator else None,
    )


def closed_on_time(ticket: TicketFact) -> bool:
    closed, due = ticket.closed_at, ticket.resolve_due_at
    return closed is not None and due is not None and closed <= due


def weekly_bulletin(
    community: CommunityRef,
    period: Period,
    alerts: list[AlertFact],
    tickets: list[TicketFact],
    grids: list[GridRef],
    points: list[PointsRow],
    now: datetime,
    false_alarms: FalseAlarms,
) -> WeeklyBulletin:
    window = window_of(period, now)
    as_of = window.as_of

    def in_week(at: datetime | None) -> bool:
        return at is not None and period.contains(at) and at <= as_of

    alerts = [a for a in alerts if in_week(a.opened_at)]
    opened = [t for t in tickets if in_week(t.created_at)]
    closed = [t for t in tickets if in_week(t.closed_at)]
    accepted = [t for t in tickets if in_week(t.accepted_at)]

    n_days = len(period.days)
    day_kinds: list[Counter[str]] = [Counter() for _ in range(n_days)]
    day_silent, day_opened, day_closed = [0] * n_days, [0] * n_days, [0] * n_days
    for a in alerts:
        i = period.day_index(a.opened_at)
        if i is not None:
            day_kinds[i][a.kind] += 1
            day_silent[i] += a.silent
    for t in opened:
        i = period.day_index(t.created_at)
        if i is not None:
            day_opened[i] += 1
    for t in closed:
        assert t.closed_at is not None
        i = period.day_index(t.closed_at)
        if i is not None:
            day_closed[i] += 1

    overdue = supervised_overdue(tickets, period.start, as_of)
    names = {g.id: g.name for g in grids}
    by_grid: dict[int | None, list[int]] = {g.id: [0, 0, 0] for g in grids}
    for column, group in enumerate((opened, closed, [o.ticket for o in overdue])):
        for t in group:
            grid_id = t.grid_id if t.grid_id in names else None
            by_grid.setdefault(grid_id, [0, 0, 0])[column] += 1
    if by_grid.get(None) == [0, 0, 0]:
        del by_grid[None]

    with_due = [t for t in closed if t.resolve_due_at is not None]
    on_time = [t for t in with_due if closed_on_time(t)]
    ratings = [t.rating for t in tickets if t.rating is not None and in_week(t.rated_at)]

    return WeeklyBulletin(
        community=community,
        window=window,
        days=[
            DayCounts(
                day=day,
                alerts_by_kind=dict(day_kinds[i]),
                alerts_total=sum(day_kinds[i].values()),
                alerts_silent=day_silent[i],
                tickets_opened=day_opened[i],
                tickets_closed=day_closed[i],
            )
            for i, day in enumerate(period.days)
        ],
        alert_kinds=kinds_by_frequency(alerts),
        silent_kinds=sorted({a.kind for a in alerts if a.silent}),
        alerts_total=len(alerts),
        alerts_silent=sum(1 for a in alerts if a.silent),
        tickets_opened=len(opened),
        tickets_closed=len(closed),
        confidential_tickets=sum(1 for t in opened if t.confidential),
        closure_rate=rate(sum(1 for t in opened if t.closed_by(as_of)), len(opened)),
        on_time_rate=rate(len(on_time), len(with_due)),
        time_to_accept=duration_stats(accepted, "accept"),
        time_to_close=duration_stats(closed, "close"),
        overdue_total=len(overdue),
        grids=[
            GridRow(
                grid_id=grid_id,
                grid_name=names.get(grid_id, NO_GRID) if grid_id is not None else NO_GRID,
                opened=o,
                closed=c,
                overdue=d,
            )
            for grid_id, (o, c, d) in by_grid.items()
        ],
        top_points=points,
        rating=RatingStats(
            count=len(ratings), mean=sum(ratings) / len(ratings) if ratings else None
        ),
        false_alarms=false_alarms,
    )
