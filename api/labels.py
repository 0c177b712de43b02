"""Words for people next to the API's codes, in the reader's language.

A device's reachability, battery and state, an alert's kind and severity, an event's
kind and values: the answers keep their codes (``online``, ``kind``, ``severity``,
``state``, ``values``) for machines and gain ``*_label`` fields for the pages
(hub.devices.words has the words, hub.devices.reasons an
availability reason's; an event kind's are hub.alerts.words'; a device's
state and an event's values are said by hub.devices.state_words, times in the
community's zone). Tickets have theirs in hub.tickets.words, charging ports in
hub.chargers.words.
"""

from __future__ import annotations

from typing import TypeVar
from zoneinfo import ZoneInfo

from hub.alerts.models import AlertPublic
from hub.alerts.words import what as kind_label
from hub.dashboard.models import ActiveAlert, BuildingDevice, Dashboard, DeviceEvents
from hub.devices.models import DevicePublic
from hub.devices.reasons import reason_label
from hub.devices.state_words import state_label, values_label
from hub.devices.words import (
    battery_label,
    low_battery_label,
    online_label,
    severity_label,
)
from hub.i18n.times import zone_name

_Alert = TypeVar("_Alert", AlertPublic, ActiveAlert)


def device(found: DevicePublic, tag: str, zone: ZoneInfo) -> DevicePublic:
    found.online_label = online_label(found.online, tag, found.availability_reason)
    found.battery_label = battery_label(found.battery_pct, tag)
    found.availability_reason_label = reason_label(found.availability_reason, tag)
    found.state_label = state_label(found.family, found.state, tag, zone)
    return found


def alert(found: _Alert, tag: str) -> _Alert:
    found.kind_label = kind_label(found.kind, tag)
    found.severity_label = severity_label(found.severity, tag)
    return found


def building_device(found: BuildingDevice, tag: str) -> BuildingDevice:
    found.online_label = online_label(found.online, tag, found.availability_reason)
    found.battery_label = low_battery_label(tag) if found.low_battery else None
    return found


def dashboard(found: Dashboard, tag: str) -> Dashboard:
    for active in found.active_alerts:
        alert(active, tag)
    found.alert_kind_labels = {kind: kind_label(kind, tag) for kind in found.alert_kinds}
    found.timezone_label = zone_name(ZoneInfo(found.timezone), tag)
    return found


def device_events(found: DeviceEvents, tag: str) -> DeviceEvents:
    for event in found.items:
        event.kind_label = kind_label(event.kind, tag)
        event.values_label = values_label(event.values, tag)
    return found
