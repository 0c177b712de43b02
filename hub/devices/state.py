"""A device's last-known state, folded from its events, per family.

What the state holds is what people ask of a device at a glance: is the
wristband worn and where is it, is the lock locked, is the gate closed, which
charging ports are free. Silent alarms (duress) never leave a trace here:
residents can see their own devices' state.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from device_adapters.kinds import KINDS
from device_adapters.model import DeviceEvent, DeviceFamily

# Values that describe one frame rather than the device.
_TRANSIENT = frozenset(
    {
        "status_hex",
        "cell_count",
        "wifi_count",
        "raw_code",
        "major",
        "minor",
        "serial_no",
        "reason_code",
        "unknown_dps",
        "mcc",
        "mnc",
        "accuracy_m",
    }
)
# A battery reading above this clears an earlier low-battery flag (replaced or charged).
LOW_BATTERY_CLEARS_ABOVE_PCT = 20
AVAILABILITIES = ("available", "charging", "reserved", "out_of_order", "unknown")
# Kinds that mark a charger's port (or its pile) faulted in its state, until the
# port reports a status other than out of order.
CHARGER_FAULT_KINDS = frozenset({"charger.fault", "charger.overtemperature", "charger.smoke"})


def _scalar_updates(event: DeviceEvent, keys: frozenset[str] | None = None) -> dict[str, Any]:
    return {
        k: v for k, v in event.values.items() if k not in _TRANSIENT and (keys is None or k in keys)
    }


# A wristband's place is kept whole in ``position`` (below), never key by key: a frame
# without a fix must not leave half of one.
_PLACE_KEYS = frozenset({"latitude", "longitude", "gps_fix", "position_source"})
POSITION_SOURCES = ("gps", "wifi", "lbs")
_CLOCK_AHEAD = timedelta(days=1)


def _coordinate(value: object, limit: float) -> float | None:
    """A number within ±limit, else None (a bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if -limit <= value <= limit else None


def _parsed(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:  # a state written by hand: the next fix replaces it
        return None


def _position(state: dict[str, Any], event: DeviceEvent) -> None:
    """The latest fix, with its time, accuracy and source; a report without one keeps it.

    ``position``: {latitude, longitude (WGS-84), source (gps, wifi, lbs), accuracy_m
    (None: not said), at}; ``position_at`` is its ``at``. ``no_fix_at``: the latest
    report without a place since that fix (the fix is older than the wearer's news).
    A fix older than the one kept (a watch sending frames it buffered) changes nothing.
    """
    values = event.values
    at = event.device_time or event.received_at
    if at > event.received_at + _CLOCK_AHEAD:
        # A watch clock set in the future would hold every later fix back as "older".
        at = event.received_at
    lat, lng = _coordinate(values.get("latitude"), 90), _coordinate(values.get("longitude"), 180)
    kept = state.get("position")
    kept_at = _parsed(kept.get("at")) if isinstance(kept, dict) else None
    if lat is None or lng is None:
        reported = event.kind == "wristband.position" or "gps_fix" in values
        if reported and (kept_at is None or at > kept_at):
            state["no_fix_at"] = at.isoformat()
        return
    if kept_at is not None and at < kept_at:
        return
    source = values.get("position_source")
    if source not in POSITION_SOURCES:
        source = "gps" if values.get("gps_fix") is not False else "lbs"
    accuracy = _coordinate(values.get("accuracy_m"), 1e7)
    state["position"] = {
        "latitude": lat,
        "longitude": lng,
        "source": source,
        # 0 is what a watch sends when it does not say.
        "accuracy_m": accuracy if accuracy is not None and accuracy > 0 else None,
        "at": at.isoformat(),
    }
    state["position_at"] = at.isoformat()
    state.pop("no_fix_at", None)


def _wristband(state: dict[str, Any], event: DeviceEvent) -> None:
    state.update({k: v for k, v in _scalar_updates(event).items() if k not in _PLACE_KEYS})
    for key in _PLACE_KEYS:  # states folded before the place was kept whole
        state.pop(key, None)
    if event.kind == "wristband.removed":
        state["worn"] = False
    elif event.kind == "wristband.worn":
        state["worn"] = True
    _position(state, event)


_LOCK_KEYS = frozenset({"lock_state", "state", "battery_pct"})


def _lock(state: dict[str, Any], event: DeviceEvent) -> None:
    state.update(_scalar_updates(event, _LOCK_KEYS))
    if event.kind == "lock.locked":
        state["lock_state"] = "locked"
    elif event.kind == "lock.unlocked":
        state["lock_state"] = "unlocked"
        state["last_unlock"] = {
            "method": event.values.get("method"),
            "user": event.values.get("user"),
            "at": event.received_at.isoformat(),
        }
    elif event.kind == "lock.jammed":
        state["jammed"] = True


def _own(container: dict[str, Any], key: str) -> dict[str, Any]:
    """A copy of the nested dict under ``key``, put back in ``container`` to be changed.

    merge_state copies only the top level of a state; nested dicts it changes are
    copied here, one level at a time, so the caller's state is never modified.
    """
    value = container.get(key)
    owned = dict(value) if isinstance(value, dict) else {}
    container[key] = owned
    return owned


def _door(state: dict[str, Any], event: DeviceEvent) -> None:
    if "battery_pct" in event.values:
        state["battery_pct"] = event.values["battery_pct"]
    door = str(event.values.get("door", 1))
    doors = _own(state, "doors")
    if event.kind in ("door.opened", "door.forced_open", "door.held_open", "door.exit_button"):
        doors[door] = "open"
    elif event.kind == "door.closed":
        doors[door] = "closed"
    if event.kind == "door.access_granted":
        # When, not who: the gate's state is visible beyond the person who passed.
        state["last_access_at"] = event.received_at.isoformat()


def _charger(state: dict[str, Any], event: DeviceEvent) -> None:
    port_value = event.values.get("port")
    if not isinstance(port_value, int) or isinstance(port_value, bool):
        return
    at = event.received_at.isoformat()
    # Port 0 is the whole pile: its status and faults apply to the pile itself.
    target = _own(state, "pile") if port_value == 0 else _own(_own(state, "ports"), str(port_value))
    if event.kind == "charger.port_status":
        for key in ("status", "error_code", "remaining_min", "power_w"):
            if key in event.values:
                target[key] = event.values[key]
        availability = event.values.get("availability")
        target["availability"] = availability if availability in AVAILABILITIES else "unknown"
        if target["availability"] != "out_of_order":
            target.pop("fault", None)
    elif event.kind in CHARGER_FAULT_KINDS:
        target["fault"] = event.values.get("error_code") or event.kind.split(".", 1)[1]
        target["availability"] = "out_of_order"
    elif event.kind == "charger.meter":
        for key in ("power_w", "energy_wh"):
            if key in event.values:
                target[key] = event.values[key]
    elif event.kind == "charger.session_started":
        target["availability"] = "charging"
    elif event.kind == "charger.session_stopped" and target.get("availability") == "charging":
        target["availability"] = "available"
    target["updated_at"] = at


_BY_FAMILY = {
    DeviceFamily.WRISTBAND: _wristband,
    DeviceFamily.LOCK: _lock,
    DeviceFamily.DOOR_ACCESS: _door,
    DeviceFamily.CHARGER: _charger,
}


def _older_than_state(state: dict[str, Any], event: DeviceEvent) -> bool:
    last = state.get("last_event_at")
    if not isinstance(last, str):
        return False
    try:
        return event.received_at < datetime.fromisoformat(last)
    except ValueError:  # a state written by hand; let the event through
        return False


def merge_state(state: dict[str, Any], event: DeviceEvent) -> dict[str, Any]:
    """Fold one event into a device's state; returns a new dict.

    The state only moves forward in event time: an event older than the last
    one folded in (several hubs share the broker's deliveries, so one device's
    events can be stored out of order) is kept in history but changes nothing
    here (docs/scale-out.md).
    """
    info = KINDS.get(event.kind)
    if info is not None and info.silent:
        return state
    if _older_than_state(state, event):
        return state
    # A shallow copy: the family folds copy the nested dicts they change (_own).
    # A deep copy of every state per event was a sixth of the ingest's CPU.
    merged = dict(state)
    _BY_FAMILY[event.family](merged, event)
    battery = event.values.get("battery_pct")
    if event.kind in ("device.low_battery", "device.battery_dead"):
        merged["battery_low"] = True
    elif isinstance(battery, int | float) and battery > LOW_BATTERY_CLEARS_ABOVE_PCT:
        merged["battery_low"] = False
    merged["last_event_kind"] = event.kind
    merged["last_event_at"] = event.received_at.isoformat()
    return merged


def faulted_parts(state: dict[str, Any]) -> tuple[str, ...]:
    """A charger's ports ("1", "2", ...) and pile ("0") its state holds a fault for."""
    parts = [("0", state.get("pile"))]
    ports = state.get("ports")
    if isinstance(ports, dict):
        parts += sorted(ports.items())
    return tuple(name for name, part in parts if isinstance(part, dict) and part.get("fault"))
