"""Wristband health readings, redacted in one place for everyone who may not see them.

A wristband's state and events carry the wearer's vitals (heart rate, blood pressure,
temperature, SpO2) and whereabouts (position, steps). Who may see them is
hub.users.scope.sees_vitals: admins, community staff and the wearer's household.
Everyone else who may see the device at all (a property manager looking after device
health, a volunteer of the grid) gets its health only: battery, reachability (the
device's own columns) and when it was last heard from. Device list and detail, a
device's event history and the dashboard's device history all go through here.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from device_adapters.model import DeviceFamily
from hub.devices.models import DevicePublic
from hub.events.tables import events
from hub.users.scope import Scope, sees_vitals

# What is left of a wristband's state, or of one of its events' values, without vitals.
DEVICE_HEALTH_KEYS = frozenset({"battery_pct", "battery_low", "last_event_at"})
# A wristband's events shown without vitals: the device's own (login, keep-alive,
# battery, power, tamper) and the link keep-alive. Not readings, positions, or alarms
# (an alarm is shown, to whoever handles it, as its alert).
_HEALTH_EVENT_PREFIX = "device."
_HEALTH_EVENT_KINDS = ("wristband.heartbeat",)


def _redacted(family: str | DeviceFamily, household_id: int | None, scope: Scope) -> bool:
    return family == DeviceFamily.WRISTBAND and not sees_vitals(scope, household_id)


def health_only(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in DEVICE_HEALTH_KEYS}


def device_for(scope: Scope, device: DevicePublic) -> DevicePublic:
    """The device as ``scope`` may see it: a wristband's state without vitals if need be."""
    if not _redacted(device.family, device.household_id, scope):
        return device
    return device.model_copy(update={"state": health_only(device.state)})


def event_kinds_for(scope: Scope, device: DevicePublic) -> ColumnElement[bool] | None:
    """Which of the device's events ``scope`` may see (None: all of them)."""
    if not _redacted(device.family, device.household_id, scope):
        return None
    return sa.or_(
        events.c.kind.startswith(_HEALTH_EVENT_PREFIX, autoescape=True),
        events.c.kind.in_(_HEALTH_EVENT_KINDS),
    )


def event_values_for(scope: Scope, device: DevicePublic, values: dict[str, Any]) -> dict[str, Any]:
    return health_only(values) if _redacted(device.family, device.household_id, scope) else values
