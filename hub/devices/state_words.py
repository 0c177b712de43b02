"""A device's last-known state, and one event's values, as a short line a person reads.

``电量 18%（低电量） · 心率 72 · 位置更新于 今天 13:27`` for a wristband, ``已上锁 · 电量 60%``
for a lock, ``充电中 · 7.2 kW`` for a charging pile: the facts people ask of a device at
a glance, in the reader's language, times in the community's zone. Only what is known
here is said: a key a codec adds later is left out until it is worded here, never shown
raw. The state comes already redacted (hub.access.privacy), so nothing is said that the
reader may not see. The API keeps ``state`` and ``values`` as codes for machines; these
labels go next to them (``state_label``, ``values_label``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from device_adapters.model import DeviceFamily
from hub.chargers.words import port_label
from hub.devices.health import LOW_BATTERY_PCT
from hub.devices.state import AVAILABILITIES
from hub.devices.words import low_battery_label
from hub.i18n.catalogs import NP_, Label, label, pgettext
from hub.i18n.times import duration, local_time

SEPARATOR = " · "


def _number(value: object) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if float(value).is_integer() else value


def _when(value: object, zone: ZoneInfo, tag: str, now: datetime | None) -> str | None:
    """A time the state keeps as ISO text, in the community's zone; None if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return local_time(at, zone, tag, now=now)


def _battery(values: dict[str, Any], tag: str) -> str | None:
    pct = _number(values.get("battery_pct"))
    low = values.get("battery_low") is True or (pct is not None and pct < LOW_BATTERY_PCT)
    if pct is None:
        return low_battery_label(tag) if low else None
    if low:
        return pgettext(
            tag, "device state", "Battery %(pct)s%% (%(low)s)", pct=pct, low=low_battery_label(tag)
        )
    return pgettext(tag, "device state", "Battery %(pct)s%%", pct=pct)


def _vitals(values: dict[str, Any], tag: str) -> Iterable[str | None]:
    if (bpm := _number(values.get("heart_rate_bpm"))) is not None:
        yield pgettext(tag, "device state", "Heart rate %(bpm)s", bpm=bpm)
    high, low = _number(values.get("systolic_mmhg")), _number(values.get("diastolic_mmhg"))
    if high is not None and low is not None:
        yield pgettext(tag, "device state", "Blood pressure %(high)s/%(low)s", high=high, low=low)
    if (celsius := _number(values.get("body_temp_c"))) is not None:
        yield pgettext(tag, "device state", "Temperature %(celsius)s °C", celsius=celsius)
    if (spo2 := _number(values.get("spo2_pct"))) is not None:
        yield pgettext(tag, "device state", "Blood oxygen %(pct)s%%", pct=spo2)
    if (steps := _number(values.get("steps"))) is not None:
        yield pgettext(tag, "device state", "%(steps)s steps", steps=steps)


def _not_worn(values: dict[str, Any], tag: str) -> str | None:
    # Worn is every reading's normal case, not news; off the wrist is.
    return pgettext(tag, "wristband", "Not worn") if values.get("worn") is False else None


LOCK_WORDS: Final[Mapping[str, Label]] = {
    "locked": NP_("lock", "Locked"),
    "unlocked": NP_("lock", "Unlocked"),
    "not_fully_locked": NP_("lock", "Not fully locked"),
}


def _lock_word(values: dict[str, Any], tag: str) -> str | None:
    # Zigbee2MQTT says lock_state (locked, unlocked, not_fully_locked) and state (LOCK,
    # UNLOCK); the lock folds lock.locked / lock.unlocked into lock_state too.
    code = values.get("lock_state")
    if not (isinstance(code, str) and code in LOCK_WORDS):
        state = values.get("state")
        code = (
            {"LOCK": "locked", "UNLOCK": "unlocked"}.get(state.upper())
            if isinstance(state, str)
            else None
        )
    return label(LOCK_WORDS, code, tag) if isinstance(code, str) and code in LOCK_WORDS else None


def _power(watts: object, tag: str) -> str | None:
    w = _number(watts)
    if w is None or w <= 0:
        return None
    kw = f"{w / 1000:.1f}"
    return pgettext(tag, "charging pile", "%(kw)s kW", kw=kw)


# ---- a device's state, per family -------------------------------------------------------

Facts = Iterable[str | None]


def _wristband_state(
    state: dict[str, Any], tag: str, zone: ZoneInfo, now: datetime | None
) -> Facts:
    yield _not_worn(state, tag)
    yield _battery(state, tag)
    yield from _vitals(state, tag)
    if (at := _when(state.get("position_at"), zone, tag, now)) is not None:
        yield pgettext(tag, "wristband", "Position updated %(time)s", time=at)


def _lock_state(state: dict[str, Any], tag: str, zone: ZoneInfo, now: datetime | None) -> Facts:
    yield _lock_word(state, tag)
    # The state keeps ``jammed`` once set; it is news only while nothing came after it.
    if state.get("jammed") is True and state.get("last_event_kind") == "lock.jammed":
        yield pgettext(tag, "lock", "Jammed")
    yield _battery(state, tag)
    unlock = state.get("last_unlock")
    if isinstance(unlock, dict) and (at := _when(unlock.get("at"), zone, tag, now)):
        yield pgettext(tag, "lock", "Last unlocked %(time)s", time=at)


def _door_state(state: dict[str, Any], tag: str, zone: ZoneInfo, now: datetime | None) -> Facts:
    doors = state.get("doors")
    known = sorted(doors.items()) if isinstance(doors, dict) else []
    known = [(str(door), s) for door, s in known if s in ("open", "closed")]
    for door, position in known:
        if len(known) == 1:  # most gates have one door: no number to say
            yield (
                pgettext(tag, "door", "Door open")
                if position == "open"
                else pgettext(tag, "door", "Door closed")
            )
        elif position == "open":
            yield pgettext(tag, "door", "Door %(door)s open", door=door)
        else:
            yield pgettext(tag, "door", "Door %(door)s closed", door=door)
    yield _battery(state, tag)
    if (at := _when(state.get("last_access_at"), zone, tag, now)) is not None:
        yield pgettext(tag, "door", "Last entry %(time)s", time=at)


def _charger_state(state: dict[str, Any], tag: str, zone: ZoneInfo, now: datetime | None) -> Facts:
    pile = state.get("pile")
    if isinstance(pile, dict) and pile.get("availability") == "out_of_order":
        yield pgettext(tag, "charging pile", "Pile out of order")
    found = state.get("ports")
    ports = (
        [p for _, p in sorted(found.items()) if isinstance(p, dict)]
        if isinstance(found, dict)
        else []
    )
    if len(ports) == 1:
        availability = ports[0].get("availability")
        if availability in AVAILABILITIES:
            yield port_label(availability, tag)
        if availability == "charging":
            yield _power(ports[0].get("power_w"), tag)
        return
    for availability in AVAILABILITIES:  # several ports: how many are in each state
        n = sum(1 for p in ports if p.get("availability") == availability)
        if n:
            yield pgettext(
                tag, "charging pile", "%(state)s: %(n)s", state=port_label(availability, tag), n=n
            )
    charging = [p.get("power_w") for p in ports if p.get("availability") == "charging"]
    total = sum(w for w in (_number(x) for x in charging) if w is not None)
    yield _power(total, tag)


_STATE: dict[DeviceFamily, Callable[[dict[str, Any], str, ZoneInfo, datetime | None], Facts]] = {
    DeviceFamily.WRISTBAND: _wristband_state,
    DeviceFamily.LOCK: _lock_state,
    DeviceFamily.DOOR_ACCESS: _door_state,
    DeviceFamily.CHARGER: _charger_state,
}


def _line(facts: Facts) -> str | None:
    return SEPARATOR.join(f for f in facts if f) or None


def state_label(
    family: DeviceFamily | str,
    state: dict[str, Any],
    tag: str,
    zone: ZoneInfo,
    *,
    now: datetime | None = None,
) -> str | None:
    """The device's state in one line (None: nothing known to say)."""
    try:
        words = _STATE[DeviceFamily(family)]
    except (ValueError, KeyError):
        return None
    return _line(words(state, tag, zone, now))


# ---- one event's values -----------------------------------------------------------------


METHOD_WORDS: Final[Mapping[str, Label]] = {
    "card": NP_("access method", "Card"),
    "face": NP_("access method", "Face"),
    "fingerprint": NP_("access method", "Fingerprint"),
    "password": NP_("access method", "Password"),
    "temporary_password": NP_("access method", "Temporary password"),
    "key": NP_("access method", "Key"),
    "app": NP_("access method", "Phone app"),
    "remote": NP_("access method", "Remote"),
    "exit_button": NP_("access method", "Exit button"),
    "manual": NP_("access method", "By hand"),
    "auto": NP_("access method", "Automatic"),
    "one_touch": NP_("access method", "One touch"),
}


def _method(code: object, tag: str) -> str | None:
    return (
        label(METHOD_WORDS, code, tag) if isinstance(code, str) and code in METHOD_WORDS else None
    )


REASON_WORDS: Final[Mapping[str, Label]] = {
    "no_permission": NP_("refused because", "No permission"),
    "invalid_card": NP_("refused because", "Invalid card"),
    "face_not_verified": NP_("refused because", "Face not recognised"),
    "wrong_finger": NP_("refused because", "Wrong fingerprint"),
    "wrong_password": NP_("refused because", "Wrong password"),
    "wrong_card": NP_("refused because", "Wrong card"),
    "wrong_face": NP_("refused because", "Wrong face"),
}


def _reason(code: object, tag: str) -> str | None:
    return (
        label(REASON_WORDS, code, tag) if isinstance(code, str) and code in REASON_WORDS else None
    )


def _values_facts(values: dict[str, Any], tag: str) -> Facts:
    yield _not_worn(values, tag)
    yield _lock_word(values, tag)
    door = _number(values.get("door"))
    if door is not None:
        yield pgettext(tag, "door", "Door %(door)s", door=door)
    port = _number(values.get("port"))
    if port == 0:
        yield pgettext(tag, "charging pile", "Whole pile")
    elif port is not None:
        yield pgettext(tag, "charging pile", "Port %(port)s", port=port)
    availability = values.get("availability")
    if availability in AVAILABILITIES:
        yield port_label(availability, tag)
    yield _method(values.get("method"), tag)
    yield _reason(values.get("reason"), tag)
    if "latitude" in values and "longitude" in values:
        if values.get("gps_fix") is False:
            yield pgettext(tag, "wristband", "Position by cell or Wi-Fi")
        else:
            yield pgettext(tag, "wristband", "Position by GPS")
    elif values.get("gps_fix") is False:  # a frame without a fix: no place, said so
        yield pgettext(tag, "wristband", "No position fix")
    yield from _vitals(values, tag)
    yield _battery(values, tag)
    yield _power(values.get("power_w"), tag)
    if (wh := _number(values.get("energy_wh"))) is not None:
        kwh = f"{wh / 1000:.1f}"
        yield pgettext(tag, "charging pile", "%(kwh)s kWh", kwh=kwh)
    if (minutes := _number(values.get("remaining_min"))) is not None and minutes > 0:
        left = duration(timedelta(minutes=minutes), tag)
        yield pgettext(tag, "charging pile", "%(duration)s left", duration=left)
    code = values.get("error_code")
    if isinstance(code, str | int) and not isinstance(code, bool) and code not in ("", "NoError"):
        yield pgettext(tag, "charging pile", "Fault code %(code)s", code=code)


def values_label(values: dict[str, Any], tag: str) -> str | None:
    """What one event said, in one line (None: nothing known to say)."""
    return _line(_values_facts(values, tag))
