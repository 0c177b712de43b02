"""Simulated smart locks: the (topic, payload) pairs their bridges publish.

- :class:`SimulatedZ2mLock`: a Zigbee lock as Zigbee2MQTT reports it (PROTOCOLS.md 4a),
  full state with each message as Zigbee2MQTT's default JSON output does.
- :class:`SimulatedTuyaLock`: a Tuya Wi-Fi lock's data-point reports as our Tuya->MQTT
  bridge publishes them (envelope in device_adapters.tuya.codec).

Sans-I/O: whoever owns an MQTT client publishes the pairs (QoS 1, see
edge/mqtt_devices.py). All payloads are *built* from the spec tables.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Final, Literal

from device_adapters.tuya import AlarmBit

Message = tuple[str, bytes]
Z2mSource = Literal["keypad", "rfid", "manual", "rf"]
TuyaMethod = Literal[
    "fingerprint", "password", "temporary_password", "dynamic_password", "card", "app"
]

TUYA_UNLOCK_DP: Final[dict[TuyaMethod, int]] = {
    "fingerprint": 1,
    "password": 2,
    "temporary_password": 3,
    "dynamic_password": 4,
    "card": 5,
    "app": 15,
}


def _json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


class SimulatedZ2mLock:
    """One Zigbee lock behind Zigbee2MQTT; keeps its state and battery."""

    def __init__(self, name: str, *, base_topic: str = "zigbee2mqtt", battery: int = 87) -> None:
        self.name = name
        self.base_topic = base_topic
        self.battery = battery
        self.locked = True

    @property
    def topic(self) -> str:
        return f"{self.base_topic}/{self.name}"

    def _state(self, **extra: Any) -> Message:
        doc: dict[str, Any] = {
            "state": "LOCK" if self.locked else "UNLOCK",
            "lock_state": "locked" if self.locked else "unlocked",
            "battery": self.battery,
            "linkquality": 120,
        }
        doc.update({k: v for k, v in extra.items() if v is not None})
        return self.topic, _json(doc)

    def state(self) -> Message:
        return self._state()

    def unlock(self, source: Z2mSource = "keypad", user: int | None = 3) -> Message:
        self.locked = False
        return self._state(action="unlock", action_source_name=source, action_user=user)

    def lock(self, action: str = "lock", source: Z2mSource | None = None) -> Message:
        """``action`` one of lock, one_touch_lock, key_lock, auto_lock, manual_lock."""
        self.locked = True
        return self._state(action=action, action_source_name=source)

    def key_unlock(self) -> Message:
        self.locked = False
        return self._state(action="key_unlock", action_source_name="manual")

    def failed_unlock(self, source: Z2mSource = "keypad", user: int | None = None) -> Message:
        return self._state(
            action="unlock_failure_invalid_pin_or_id", action_source_name=source, action_user=user
        )

    def battery_report(self, pct: int) -> Message:
        self.battery = pct
        return self._state()

    def availability(self, online: bool = True) -> Message:
        return f"{self.topic}/availability", b"online" if online else b"offline"


class SimulatedTuyaLock:
    """One Tuya Wi-Fi lock; keeps its battery and stamps reports with ``t``."""

    def __init__(
        self,
        dev_id: str,
        *,
        base_topic: str = "tuya",
        battery: int = 87,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.dev_id = dev_id
        self.base_topic = base_topic
        self.battery = battery
        self._clock = clock

    @property
    def topic(self) -> str:
        return f"{self.base_topic}/{self.dev_id}/state"

    def report(self, dps: dict[int, Any], *, with_battery: bool = True) -> Message:
        points = {str(dp): value for dp, value in dps.items()}
        if with_battery:
            points.setdefault("12", self.battery)
        doc = {"devId": self.dev_id, "dps": points, "t": int(self._clock())}
        return self.topic, _json(doc)

    def unlock(self, method: TuyaMethod = "fingerprint", user: int = 1) -> Message:
        return self.report({TUYA_UNLOCK_DP[method]: user})

    def alarm(self, bits: AlarmBit | int) -> Message:
        return self.report({8: int(bits)})

    def hijack(self, user: int | None = None) -> Message:
        """The duress (hijack) fingerprint or code: DP 16, the door opens."""
        return self.report({16: True if user is None else user})

    def hijack_with_fingerprint(self, user: int) -> Message:
        """The hijack DP together with the unlock DP of the finger that was used."""
        return self.report({1: user, 16: True})

    def doorbell(self) -> Message:
        return self.report({19: True})

    def battery_report(self, pct: int) -> Message:
        self.battery = pct
        return self.report({})
