"""What a device tells about people, redacted in one place for everyone who may not see it.

Three families carry more than the device's health:

- a wristband's state and events carry the wearer's vitals (heart rate, blood pressure,
  temperature, SpO2) and whereabouts (position, steps);
- a gate's access events carry who passed (name, card number, employee number);
- a lock's state and events carry a household's comings and goings: who unlocked the
  door, how, when it was locked and unlocked.

Who may see them is one rule (hub.access.scope.sees_vitals): admins, community staff and
the device's household. Everyone else who may see the device at all (a property manager
looking after device health, a volunteer of the grid) gets what the device says about
itself: battery, reachability (the device's own columns), when it was last heard from,
and, for gates and locks, the property's matters without the person (a card refused at
door 1, a lock jammed, a failed unlock attempt). Device list and detail, a device's event
history and the dashboard's device history all go through here. What is kept is listed
(allowlists): a value a codec adds later stays hidden until it is added here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Self, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from device_adapters.model import DeviceFamily
from hub.access.scope import Scope, sees_vitals
from hub.schema.events import events


class Device(Protocol):
    """What redaction reads of a device (hub.devices.models.DevicePublic has it)."""

    @property
    def family(self) -> DeviceFamily: ...
    @property
    def household_id(self) -> int | None: ...
    @property
    def state(self) -> dict[str, Any]: ...

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Self: ...


D = TypeVar("D", bound=Device)

# What is left of a wristband's state, or of one of its events' values, without vitals.
DEVICE_HEALTH_KEYS = frozenset({"battery_pct", "battery_low", "last_event_at"})
# Every family's own events (login, keep-alive, battery, power, tamper) are health.
_HEALTH_EVENT_PREFIX = "device."


@dataclass(frozen=True)
class Redaction:
    """What of one family's devices those who may not see its people are shown."""

    state_keys: frozenset[str]  # top-level keys of the device's state
    event_kinds: frozenset[str] | None  # besides device.*; None: every kind
    value_keys: frozenset[str]  # keys of an event's values


REDACTIONS: dict[DeviceFamily, Redaction] = {
    # Readings, positions and alarms are not shown (an alarm is shown, to whoever
    # handles it, as its alert); the link keep-alive is.
    DeviceFamily.WRISTBAND: Redaction(
        state_keys=DEVICE_HEALTH_KEYS,
        event_kinds=frozenset({"wristband.heartbeat"}),
        value_keys=DEVICE_HEALTH_KEYS,
    ),
    # Every pass, refusal and door movement, without who: name, card, employee number.
    DeviceFamily.DOOR_ACCESS: Redaction(
        state_keys=frozenset({"doors", "last_access_at", "last_event_kind", *DEVICE_HEALTH_KEYS}),
        event_kinds=None,
        value_keys=frozenset(
            {
                "door",
                "reader",
                "method",
                "reason",
                "verify_mode",
                "tamper",
                "device_name",
                "device_time_local",
                "availability",
                *DEVICE_HEALTH_KEYS,
            }
        ),
    ),
    # Whether it is locked now and its troubles; not who unlocked it, how or when
    # (lock.unlocked, lock.locked, lock.state reports, the doorbell are the household's).
    DeviceFamily.LOCK: Redaction(
        state_keys=frozenset({"lock_state", "state", "jammed", *DEVICE_HEALTH_KEYS}),
        event_kinds=frozenset(
            {
                "lock.unlock_failed",
                "lock.jammed",
                "lock.tamper",
                "lock.door_held_open",
                "lock.key_left_in",
                "lock.high_temperature",
                "lock.shock",
            }
        ),
        value_keys=frozenset(
            {"reason", "attempted", "jammed", "alarm", "availability", *DEVICE_HEALTH_KEYS}
        ),
    ),
}


def sees_people(scope: Scope, household_id: int | None) -> bool:
    """Whether ``scope`` sees what a device of ``household_id`` (None: a shared device,
    such as a gate) says about people: admins, community staff, the household."""
    return sees_vitals(scope, household_id)


def _redaction(scope: Scope, device: Device) -> Redaction | None:
    rule = REDACTIONS.get(device.family)
    if rule is None or sees_people(scope, device.household_id):
        return None
    return rule


def health_only(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in DEVICE_HEALTH_KEYS}


def _kept(values: dict[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in keys}


def _kind_shown(rule: Redaction, kind: str) -> bool:
    return (
        rule.event_kinds is None
        or kind.startswith(_HEALTH_EVENT_PREFIX)
        or kind in rule.event_kinds
    )


def device_for(scope: Scope, device: D) -> D:
    """The device as ``scope`` may see it: its state without what concerns people."""
    rule = _redaction(scope, device)
    if rule is None:
        return device
    state = _kept(device.state, rule.state_keys)
    if "last_event_kind" in state and not _kind_shown(rule, str(state["last_event_kind"])):
        del state["last_event_kind"]  # "lock.unlocked" at last_event_at is an unlock
    return device.model_copy(update={"state": state})


def event_kinds_for(scope: Scope, device: Device) -> ColumnElement[bool] | None:
    """Which of the device's events ``scope`` may see (None: all of them)."""
    rule = _redaction(scope, device)
    if rule is None or rule.event_kinds is None:
        return None
    return sa.or_(
        events.c.kind.startswith(_HEALTH_EVENT_PREFIX, autoescape=True),
        events.c.kind.in_(sorted(rule.event_kinds)),
    )


def event_values_for(scope: Scope, device: Device, values: dict[str, Any]) -> dict[str, Any]:
    rule = _redaction(scope, device)
    return values if rule is None else _kept(values, rule.value_keys)
