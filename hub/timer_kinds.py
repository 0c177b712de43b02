"""The timer kinds of the hub's domains, registered with the scheduler (hub/timers/scheduler.py).

The one place that knows them all, above the domains: adding a kind is a line here
and a handler in its domain, with no edit of the scheduler.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.chargers import reservations
from hub.notifications.base import Notification
from hub.reports import schedule as reports
from hub.rules import conditions
from hub.tickets import escalation, limits
from hub.timers.scheduler import TimerKinds


async def _condition(
    conn: AsyncConnection, payload: dict[str, Any], now: datetime
) -> tuple[str, list[Notification]]:
    outcome, raised = await conditions.on_timer(conn, payload, now)
    return outcome, raised.notifications if raised is not None else []


async def _report_timers(conn: AsyncConnection, now: datetime) -> None:
    await reports.arm_report_timers(conn, now)


def timer_kinds() -> TimerKinds:
    return TimerKinds(
        handlers={
            escalation.TIMER_KIND: escalation.on_timer,
            limits.TIMER_KIND: limits.on_timer,
            reports.TIMER_KIND: reports.on_timer,
            reservations.TIMER_KIND: reservations.on_timer,
            conditions.TIMER_KIND: _condition,
        },
        # Welfare clocks first: its count is what sweep() reports.
        upkeep={
            "arming welfare checks": conditions.arm_welfare_checks,
            "arming report timers": _report_timers,
        },
    )
