"""The shared vocabulary of event kinds, with the severity and lane of each.

Adapters look kinds up here so that the same kind means the same thing
whichever vendor reported it. docs/event-kinds.md renders this table.

``silent`` marks duress alarms: they go to community staff (and police where
configured), are never shown on residents' or public screens, and are never
signalled back to the device.
"""

from __future__ import annotations

from dataclasses import dataclass

from device_adapters.model import Lane, Severity


@dataclass(frozen=True)
class KindInfo:
    name: str
    severity: Severity
    lane: Lane
    description: str
    silent: bool = False


def _kinds(*infos: KindInfo) -> dict[str, KindInfo]:
    return {info.name: info for info in infos}


_A, _T = Lane.ALARM, Lane.TELEMETRY
_S = Severity

KINDS: dict[str, KindInfo] = _kinds(
    # Any family.
    KindInfo("device.login", _S.INFORMATIONAL, _T, "device logged in / connected"),
    KindInfo("device.heartbeat", _S.INFORMATIONAL, _T, "keep-alive with no other content"),
    KindInfo("device.low_battery", _S.LOW, _A, "device battery is low"),
    KindInfo("device.battery_dead", _S.HIGH, _A, "device battery is exhausted"),
    KindInfo("device.power_cut", _S.MEDIUM, _A, "device lost external (mains) power"),
    KindInfo("device.tamper", _S.HIGH, _A, "device or its reader was opened or pried"),
    # Wristbands and watches of elderly residents.
    KindInfo("wristband.heartbeat", _S.INFORMATIONAL, _T, "link keep-alive with steps and battery"),
    KindInfo("wristband.position", _S.INFORMATIONAL, _T, "position fix (GPS, or cell/Wi-Fi only)"),
    KindInfo("wristband.heart_rate", _S.INFORMATIONAL, _T, "heart rate measurement"),
    KindInfo("wristband.blood_pressure", _S.INFORMATIONAL, _T, "blood pressure and heart rate"),
    KindInfo("wristband.temperature", _S.INFORMATIONAL, _T, "body temperature measurement"),
    KindInfo("wristband.spo2", _S.INFORMATIONAL, _T, "blood oxygen saturation measurement"),
    KindInfo("wristband.sos", _S.CRITICAL, _A, "wearer pressed the SOS button"),
    KindInfo("wristband.fall", _S.CRITICAL, _A, "wristband detected a fall"),
    KindInfo("wristband.removed", _S.HIGH, _A, "wristband taken off the wrist"),
    KindInfo("wristband.worn", _S.INFORMATIONAL, _T, "wristband is on the wrist again"),
    KindInfo("wristband.geofence_exit", _S.MEDIUM, _A, "wearer left a geofence"),
    KindInfo("wristband.geofence_enter", _S.LOW, _T, "wearer entered a geofence"),
    # Door access controllers (gates).
    KindInfo(
        "door.access_granted", _S.INFORMATIONAL, _T, "card, face or code accepted (sign of life)"
    ),
    KindInfo("door.access_denied", _S.LOW, _T, "card, face or code refused"),
    KindInfo("door.opened", _S.INFORMATIONAL, _T, "door opened normally"),
    KindInfo("door.closed", _S.INFORMATIONAL, _T, "door closed"),
    KindInfo("door.exit_button", _S.INFORMATIONAL, _T, "door released by the exit button"),
    KindInfo("door.forced_open", _S.HIGH, _A, "door opened without a valid release"),
    KindInfo("door.held_open", _S.MEDIUM, _A, "door held open too long"),
    KindInfo("door.duress", _S.CRITICAL, _A, "duress code or card used at a gate", silent=True),
    # Smart locks.
    KindInfo("lock.state", _S.INFORMATIONAL, _T, "lock state report (locked, unlocked, not fully)"),
    KindInfo("lock.locked", _S.INFORMATIONAL, _T, "lock was locked"),
    KindInfo("lock.unlocked", _S.INFORMATIONAL, _T, "lock was unlocked (method, user in values)"),
    KindInfo("lock.unlock_failed", _S.LOW, _T, "wrong finger, password, card or face"),
    KindInfo("lock.jammed", _S.MEDIUM, _A, "bolt jammed (closed or open)"),
    KindInfo("lock.tamper", _S.HIGH, _A, "lock forced or pried"),
    KindInfo("lock.duress", _S.CRITICAL, _A, "hijack fingerprint or code used", silent=True),
    KindInfo("lock.door_held_open", _S.MEDIUM, _A, "door left open too long"),
    KindInfo("lock.key_left_in", _S.LOW, _T, "key left in the lock"),
    KindInfo("lock.high_temperature", _S.CRITICAL, _A, "high temperature at the lock (fire?)"),
    KindInfo("lock.shock", _S.MEDIUM, _A, "shock or vibration at the lock"),
    KindInfo("lock.doorbell", _S.INFORMATIONAL, _T, "doorbell pressed"),
    # Charging piles (EV chargers over OCPP, e-bike piles).
    KindInfo("charger.boot", _S.INFORMATIONAL, _T, "charger booted and registered"),
    KindInfo("charger.heartbeat", _S.INFORMATIONAL, _T, "charger keep-alive"),
    KindInfo("charger.port_status", _S.INFORMATIONAL, _T, "a port's status changed"),
    KindInfo("charger.fault", _S.HIGH, _A, "a port or the whole charger reports a fault"),
    KindInfo("charger.meter", _S.INFORMATIONAL, _T, "power and energy reading"),
    KindInfo("charger.session_started", _S.INFORMATIONAL, _T, "charging session started"),
    KindInfo("charger.session_stopped", _S.INFORMATIONAL, _T, "charging session stopped (reason)"),
    KindInfo("charger.overpower", _S.MEDIUM, _A, "a port or the pile drew more than its limit"),
    KindInfo("charger.overtemperature", _S.CRITICAL, _A, "pile over-temperature (fire risk)"),
    KindInfo("charger.smoke", _S.CRITICAL, _A, "smoke detected at the pile"),
    KindInfo("charger.cabinet_open", _S.MEDIUM, _A, "pile cabinet door opened"),
    KindInfo("charger.power_outage", _S.MEDIUM, _A, "pile lost its power supply"),
)


def kind_info(name: str) -> KindInfo:
    """Return the catalogue entry for ``name``; unknown kinds are a programming error."""
    return KINDS[name]


def markdown_table() -> str:
    """The vocabulary as the Markdown table in docs/event-kinds.md."""
    lines = ["| kind | severity | lane | silent | meaning |", "|---|---|---|---|---|"]
    for k in KINDS.values():
        silent = "yes" if k.silent else ""
        lines.append(
            f"| `{k.name}` | {k.severity.value} | {k.lane.value} | {silent} | {k.description} |"
        )
    return "\n".join(lines)
