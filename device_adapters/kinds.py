"""The shared vocabulary of event kinds, with the severity and lane of each.

Adapters look kinds up here so that the same kind means the same thing
whichever vendor reported it. docs/event-kinds.md renders this table.
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


def _kinds(*infos: KindInfo) -> dict[str, KindInfo]:
    return {info.name: info for info in infos}


_A, _T = Lane.ALARM, Lane.TELEMETRY
_S = Severity

KINDS: dict[str, KindInfo] = _kinds(
    KindInfo("wristband.heartbeat", _S.INFORMATIONAL, _T, "link keep-alive with steps and battery"),
    KindInfo("wristband.position", _S.INFORMATIONAL, _T, "position fix (GPS, or cell/Wi-Fi only)"),
    KindInfo("wristband.heart_rate", _S.INFORMATIONAL, _T, "heart rate measurement"),
    KindInfo("wristband.blood_pressure", _S.INFORMATIONAL, _T, "blood pressure and heart rate"),
    KindInfo("wristband.sos", _S.CRITICAL, _A, "wearer pressed the SOS button"),
    KindInfo("wristband.fall", _S.CRITICAL, _A, "wristband detected a fall"),
    KindInfo("wristband.removed", _S.HIGH, _A, "wristband taken off the wrist"),
    KindInfo("wristband.geofence_exit", _S.MEDIUM, _A, "wearer left a geofence"),
    KindInfo("wristband.geofence_enter", _S.LOW, _T, "wearer entered a geofence"),
    KindInfo("device.low_battery", _S.LOW, _A, "device battery is low"),
    KindInfo("device.power_cut", _S.MEDIUM, _A, "device lost external power"),
)


def kind_info(name: str) -> KindInfo:
    """Return the catalogue entry for ``name``; unknown kinds are a programming error."""
    return KINDS[name]
