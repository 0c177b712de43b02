"""Sans-I/O codec for Tuya Wi-Fi lock data points (PROTOCOLS.md 4b).

``decode`` reads one data-point report as our local Tuya->MQTT bridge publishes it on
``<tuya base>/<devId>/state`` (envelope documented in :mod:`device_adapters.tuya.codec`).
Every frame used in tests is *built* from the spec table.
"""

from device_adapters.base import MessageAdapter
from device_adapters.model import DeviceFamily
from device_adapters.tuya.codec import (
    ALARM_BITS,
    ALARM_DP,
    BATTERY_DP,
    DEVICE_ID_PREFIX,
    DOORBELL_DP,
    DURESS_DP,
    KNOWN_ALARM_BITS,
    KNOWN_DPS,
    LOW_BATTERY_PCT,
    MAX_PAYLOAD_BYTES,
    PROTOCOL,
    UNLOCK_DPS,
    AlarmBit,
    TuyaDecodeError,
    decode,
    sanitize_dev_id,
)

ADAPTER = MessageAdapter(
    name="tuya_lock",
    family=DeviceFamily.LOCK,
    description="Tuya Wi-Fi locks: data-point reports from a local Tuya->MQTT bridge",
    decode=decode,
    transport="mqtt",
)

__all__ = [
    "ADAPTER",
    "ALARM_BITS",
    "ALARM_DP",
    "BATTERY_DP",
    "DEVICE_ID_PREFIX",
    "DOORBELL_DP",
    "DURESS_DP",
    "KNOWN_ALARM_BITS",
    "KNOWN_DPS",
    "LOW_BATTERY_PCT",
    "MAX_PAYLOAD_BYTES",
    "PROTOCOL",
    "UNLOCK_DPS",
    "AlarmBit",
    "TuyaDecodeError",
    "decode",
    "sanitize_dev_id",
]
