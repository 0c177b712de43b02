"""Sans-I/O codec for Zigbee locks behind a Zigbee2MQTT bridge (PROTOCOLS.md 4a).

``decode`` turns a state message (``<base>/<friendly name>``) into DeviceEvents,
``decode_availability``/``availability_of`` read ``<base>/<friendly name>/availability``,
and ``set_command`` builds the ``<base>/<friendly name>/set`` payload. The edge's MQTT
subscription is edge/mqtt_devices.py. The golden frame is the *built* example of
PROTOCOLS.md 4a.
"""

from device_adapters.base import MessageAdapter
from device_adapters.model import DeviceFamily
from device_adapters.zigbee2mqtt.codec import (
    DEVICE_ID_PREFIX,
    LOCK_ACTIONS,
    LOW_BATTERY_PCT,
    MAX_PAYLOAD_BYTES,
    PROTOCOL,
    UNLOCK_ACTIONS,
    Z2mDecodeError,
    availability_of,
    command_topic,
    decode,
    decode_availability,
    device_id_for,
    sanitize_name,
    set_command,
)
from device_adapters.zigbee2mqtt.commands import COMMANDS

ADAPTER = MessageAdapter(
    name="z2m_lock",
    family=DeviceFamily.LOCK,
    description="Zigbee locks through a Zigbee2MQTT bridge (JSON state messages over MQTT)",
    decode=decode,
    transport="mqtt",
    commands=COMMANDS,
)

__all__ = [
    "ADAPTER",
    "DEVICE_ID_PREFIX",
    "LOCK_ACTIONS",
    "LOW_BATTERY_PCT",
    "MAX_PAYLOAD_BYTES",
    "PROTOCOL",
    "UNLOCK_ACTIONS",
    "Z2mDecodeError",
    "availability_of",
    "command_topic",
    "decode",
    "decode_availability",
    "device_id_for",
    "sanitize_name",
    "set_command",
]
