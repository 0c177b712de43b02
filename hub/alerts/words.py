"""Event kinds in words a person reads: an alarm title's ``{what}``, in every language.

The vocabulary (device_adapters.kinds) describes each kind for developers, in
English, and sits below the hub (it imports no catalog). The words staff read are
here, marked for the message catalog: every kind of the vocabulary, and the alert
kinds the shipped rules raise from conditions over time (a heart rate that stays
high, a wristband left off). A kind without words (a community's own alert kind)
is shown as it is written, made readable.
"""

from __future__ import annotations

from hub.i18n.catalogs import N_, gettext

KIND_WORDS: dict[str, str] = {
    # Any family.
    "device.login": N_("device connected"),
    "device.heartbeat": N_("device heartbeat"),
    "device.low_battery": N_("low battery"),
    "device.battery_dead": N_("battery exhausted"),
    "device.power_cut": N_("power cut"),
    "device.tamper": N_("device tampered with"),
    "device.offline": N_("device offline"),
    "device.false_alarms_repeated": N_("false alarms again and again"),
    "gateway.offline": N_("gateway offline"),
    "gateway.outbox_filling": N_("gateway store filling up"),
    # Wristbands and watches of elderly residents.
    "wristband.heartbeat": N_("wristband heartbeat"),
    "wristband.position": N_("wristband position"),
    "wristband.heart_rate": N_("heart rate"),
    "wristband.blood_pressure": N_("blood pressure"),
    "wristband.temperature": N_("body temperature"),
    "wristband.spo2": N_("blood oxygen"),
    "wristband.sos": N_("SOS"),
    "wristband.fall": N_("fall detected"),
    "wristband.removed": N_("wristband taken off"),
    "wristband.worn": N_("wristband worn again"),
    "wristband.geofence_exit": N_("left the safe area"),
    "wristband.geofence_enter": N_("back in the safe area"),
    "wristband.heart_rate_high": N_("heart rate high"),
    "wristband.heart_rate_low": N_("heart rate low"),
    "wristband.not_worn": N_("wristband not worn"),
    "welfare.no_sign_of_life": N_("no sign of life"),
    # Door access controllers (gates).
    "door.access_granted": N_("gate opened by card, face or code"),
    "door.access_denied": N_("card, face or code refused"),
    "door.access_denied_repeated": N_("cards refused again and again"),
    "door.opened": N_("door opened"),
    "door.closed": N_("door closed"),
    "door.exit_button": N_("door opened by the exit button"),
    "door.forced_open": N_("door forced open"),
    "door.held_open": N_("door held open"),
    "door.duress": N_("duress at a gate"),
    # Smart locks.
    "lock.state": N_("lock state"),
    "lock.locked": N_("door locked"),
    "lock.unlocked": N_("door unlocked"),
    "lock.unlock_failed": N_("failed unlock"),
    "lock.unlock_failed_repeated": N_("failed unlocks again and again"),
    "lock.jammed": N_("lock jammed"),
    "lock.tamper": N_("lock tampered with"),
    "lock.duress": N_("duress at a lock"),
    "lock.door_held_open": N_("door left open"),
    "lock.key_left_in": N_("key left in the lock"),
    "lock.high_temperature": N_("high temperature at the lock"),
    "lock.shock": N_("shock at the lock"),
    "lock.doorbell": N_("doorbell"),
    # Charging piles.
    "charger.boot": N_("charger started"),
    "charger.heartbeat": N_("charger heartbeat"),
    "charger.port_status": N_("charging port status"),
    "charger.fault": N_("charger fault"),
    "charger.meter": N_("charger meter reading"),
    "charger.session_started": N_("charging started"),
    "charger.session_stopped": N_("charging stopped"),
    "charger.overpower": N_("charger overload"),
    "charger.overtemperature": N_("charger over-temperature"),
    "charger.smoke": N_("smoke at the charger"),
    "charger.cabinet_open": N_("charger cabinet opened"),
    "charger.power_outage": N_("charger power outage"),
}


def what(kind: str, language: str) -> str:
    """An event or alert kind in ``language``'s words (``一键求助`` / ``SOS``)."""
    words = KIND_WORDS.get(kind)
    if words is None:
        return kind.replace("_", " ").replace(".", ": ")
    return gettext(language, words)
