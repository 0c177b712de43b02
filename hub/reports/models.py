"""The two reports as data: what the HTML pages show and ``?format=json`` returns.

Durations are in seconds; instants are UTC. ``silent`` alerts (duress) and
``confidential`` tickets are included, marked, because these reports are for
community staff, property managers and admins only.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class CommunityRef(BaseModel):
    id: int
    name: str
    timezone: str


class ReportWindow(BaseModel):
    label: str = Field(description="the date (YYYY-MM-DD) or ISO week (YYYY-Www)")
    first_day: date
    last_day: date
    timezone: str
    start: datetime = Field(description="local midnight the period begins, in UTC")
    end: datetime = Field(description="local midnight after the period, in UTC (exclusive)")
    as_of: datetime = Field(description="end of the figures: the end, or now if not over yet")
    partial: bool = Field(description="the period is not over yet: figures so far")
    generated_at: datetime


class DurationStats(BaseModel):
    count: int
    mean_s: float | None
    max_s: float | None


class AlertKindCount(BaseModel):
    kind: str
    description: str
    severity: str
    count: int
    silent: int = Field(description="of which silent (duress) alarms")


class SeverityCount(BaseModel):
    severity: str
    count: int


class StateCount(BaseModel):
    status: str
    count: int


class TicketBrief(BaseModel):
    id: int
    title: str
    category: str
    status: str = Field(description="the state at the report's as-of time")
    level: str
    grid_name: str | None
    assignee_name: str | None
    confidential: bool
    created_at: datetime


class OverdueTicket(TicketBrief):
    response_due_at: datetime | None
    resolve_due_at: datetime | None
    response_late_s: float | None = Field(description="late against the response deadline")
    response_ongoing: bool = Field(description="still no response at the as-of time")
    resolve_late_s: float | None = Field(description="late against the resolve deadline")
    resolve_ongoing: bool = Field(description="still not closed at the as-of time")
    late_s: float
    closed_at: datetime | None


class RateStats(BaseModel):
    numerator: int
    denominator: int
    rate: float | None


class FalseAlarmRow(BaseModel):
    """One device's or one resident's alarms disposed in the period."""

    id: str = Field(description="the device id, or the resident's id")
    name: str
    false_alarms: int = Field(description="disposed as a false alarm or pressed by mistake")
    disposed: int = Field(description="every alarm disposed in the period")
    rate: float | None


class FalseAlarms(BaseModel):
    """Alarms whose tickets were resolved in the period, by what they turned out to be."""

    total: RateStats = Field(description="false alarms + pressed by mistake, of all disposed")
    by_disposition: dict[str, int]
    by_device: list[FalseAlarmRow] = Field(description="highest rate first")
    by_resident: list[FalseAlarmRow] = Field(description="highest rate first")


class HourCounts(BaseModel):
    hour: int = Field(ge=0, le=23, description="local clock hour")
    alerts_by_kind: dict[str, int]


class DailyDigest(BaseModel):
    report: str = "daily_digest"
    community: CommunityRef
    window: ReportWindow
    alerts_total: int
    alerts_silent: int
    alerts_by_kind: list[AlertKindCount]
    alerts_by_severity: list[SeverityCount]
    alerts_by_hour: list[HourCounts]
    tickets_registered: int
    tickets_closed: int
    tickets_open: int = Field(description="open at the as-of time, whenever registered")
    open_by_state: list[StateCount]
    confidential_tickets: int = Field(description="registered in the period")
    overdue: list[OverdueTicket]
    community_level: list[TicketBrief] = Field(
        description="tickets raised to the community (大事不出社区): registered in the period "
        "or still open"
    )
    time_to_close: DurationStats = Field(description="tickets closed in the period")
    false_alarms: FalseAlarms


class DayCounts(BaseModel):
    day: date
    alerts_by_kind: dict[str, int]
    alerts_total: int
    alerts_silent: int
    tickets_opened: int
    tickets_closed: int


class GridRow(BaseModel):
    grid_id: int | None
    grid_name: str
    opened: int
    closed: int
    overdue: int


class PointsRow(BaseModel):
    user_id: int
    full_name: str
    role: str
    points: int
    awards: int


class RatingStats(BaseModel):
    count: int
    mean: float | None


class WeeklyBulletin(BaseModel):
    report: str = "weekly_bulletin"
    community: CommunityRef
    window: ReportWindow
    days: list[DayCounts]
    alert_kinds: list[str] = Field(description="every kind seen in the week, most frequent first")
    silent_kinds: list[str] = Field(description="kinds with silent (duress) alerts this week")
    alerts_total: int
    alerts_silent: int
    tickets_opened: int
    tickets_closed: int
    confidential_tickets: int = Field(description="opened in the week")
    closure_rate: RateStats = Field(
        description="of the tickets opened this week, how many were closed by its end"
    )
    on_time_rate: RateStats = Field(
        description="of the tickets closed this week that had a resolve-by time, how many "
        "closed by it"
    )
    time_to_accept: DurationStats = Field(description="tickets first accepted this week")
    time_to_close: DurationStats = Field(description="tickets closed this week")
    overdue_total: int
    grids: list[GridRow]
    top_points: list[PointsRow] = Field(description="top 10 points earners of the week")
    rating: RatingStats = Field(description="resident ratings given this week (1-5)")
    false_alarms: FalseAlarms
