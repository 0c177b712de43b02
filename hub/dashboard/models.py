"""The dashboard as data: what GET /api/v1/dashboard and its device views return.

Instants are UTC; days are the community's local days (UTC for an admin looking
at every community at once). Durations are in hours.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from device_adapters.model import DeviceFamily, Lane, Severity
from hub.devices.health import LOW_BATTERY_PCT
from hub.schema.alerts import AlertStatus

DUE_SOON_MINUTES = 30  # a running time limit this close is "due soon"
DAYS = 14  # days in the charts, today included
ACTIVE_ALERTS_SHOWN = 20


class BuildingHealth(BaseModel):
    building_id: int
    name: str
    grid_id: int
    grid_name: str
    devices: int
    online: int = Field(description="the edge reports the device reachable")
    offline: int = Field(description="the edge reports the device unreachable")
    unknown: int = Field(description="no reachability report yet")
    low_battery: int = Field(description=f"battery below {LOW_BATTERY_PCT}%")
    faulted: int = Field(
        description="an active (open or acknowledged) alert of severity high or critical, "
        "or a charging port out of order"
    )


class ActiveAlert(BaseModel):
    id: int
    device_id: str
    device_name: str | None
    building_id: int | None
    building_name: str | None
    kind: str
    # Words for people next to the codes, in the reader's language (hub.devices.words).
    kind_label: str | None = None
    severity: Severity
    severity_label: str | None = None
    status: AlertStatus
    summary: str = Field(description="in the reader's language where it was kept in it")
    titles: dict[str, str] | None = Field(None, description="the summary in every language")
    opened_at: datetime
    last_event_at: datetime
    event_count: int
    silent: bool = Field(description="a duress alarm: never shown to property managers")
    ticket_id: int | None


class TicketLimits(BaseModel):
    """Tickets whose time limits are still running, by how close the nearest one is."""

    open: int = Field(description="tickets with a running time limit (not yet resolved)")
    on_time: int
    due_soon: int = Field(description=f"less than {DUE_SOON_MINUTES} min to the limit")
    overdue: int
    without_limit: int = Field(description="open tickets whose category sets no limit")
    due_soon_minutes: int = DUE_SOON_MINUTES


class AlertsDay(BaseModel):
    date: date
    total: int
    by_kind: dict[str, int]


class CloseDay(BaseModel):
    date: date
    closed: int = Field(description="tickets closed that day")
    median_hours: float | None = Field(description="from registered to closed; None: none")


class TimeToClose(BaseModel):
    days: list[CloseDay]
    closed: int = Field(description="tickets closed in the whole window")
    median_hours: float | None = Field(description="over the whole window")


class Dashboard(BaseModel):
    generated_at: datetime
    community_id: int | None = Field(description="None: an admin's view of every community")
    timezone: str = Field(description="the time zone the days are counted in")
    timezone_label: str | None = Field(
        default=None, description="that zone as the reader names it (北京时间)"
    )
    first_day: date
    last_day: date = Field(description="today, so far")
    buildings: list[BuildingHealth]
    active_alerts: list[ActiveAlert] = Field(
        description=f"the newest {ACTIVE_ALERTS_SHOWN} open or acknowledged alerts"
    )
    active_alerts_total: int
    tickets_by_limit: TicketLimits
    alert_kinds: list[str] = Field(description="kinds in alerts_per_day, the most frequent first")
    alert_kind_labels: dict[str, str] | None = Field(
        None, description="each of alert_kinds in the reader's language"
    )
    alerts_per_day: list[AlertsDay] = Field(description="alerts opened, oldest day first")
    time_to_close: TimeToClose


class BuildingDevice(BaseModel):
    """One device of a building, as the dashboard lists it."""

    id: str
    name: str
    family: DeviceFamily
    online: bool | None
    availability_reason: str | None = None
    battery_pct: int | None
    last_seen_at: datetime | None
    low_battery: bool
    # Words for people next to the codes, in the reader's language (hub.devices.words).
    online_label: str | None = None
    battery_label: str | None = None
    faulted: bool
    active_alerts: int


class DeviceEventPublic(BaseModel):
    event_id: UUID
    kind: str
    kind_label: str | None = None
    severity: Severity
    lane: Lane
    device_time: datetime | None = Field(description="when the device says it happened")
    received_at: datetime = Field(description="when the edge received it")
    values: dict[str, Any]
    values_label: str | None = Field(
        None, description="what values says, in the reader's language (known facts only)"
    )
    alert_id: int | None


class DeviceEvents(BaseModel):
    device_id: str
    items: list[DeviceEventPublic] = Field(description="newest first")
