"""OCPP 1.6J (EV chargers, JSON over WebSocket; PROTOCOLS.md 2a), sans-I/O.

The ``ocpp`` library drives the session (framing, schemas, routing) in the
edge's :mod:`edge.ocpp_server`; this package only turns request payloads into
DeviceEvents (:mod:`.normalize`) and builds down-link calls (:mod:`.commands`).
"""

from device_adapters.base import SessionAdapter
from device_adapters.model import DeviceFamily
from device_adapters.ocpp16 import normalize
from device_adapters.ocpp16.commands import COMMANDS
from device_adapters.ocpp16.normalize import (
    AVAILABILITIES,
    PROTOCOL,
    STATUSES,
    OcppDecodeError,
    availability_for,
    boot_notification,
    charge_point_id_from_path,
    device_id_for,
    heartbeat,
    meter_values,
    sanitize_charge_point_id,
    start_transaction,
    status_notification,
    stop_transaction,
)

ADAPTER = SessionAdapter(
    name=PROTOCOL,
    family=DeviceFamily.CHARGER,
    description="OCPP 1.6J EV chargers (JSON over WebSocket, subprotocol ocpp1.6)",
    functions=normalize,
    default_port=9000,
    commands=COMMANDS,
)

__all__ = [
    "ADAPTER",
    "AVAILABILITIES",
    "PROTOCOL",
    "STATUSES",
    "OcppDecodeError",
    "availability_for",
    "boot_notification",
    "charge_point_id_from_path",
    "device_id_for",
    "heartbeat",
    "meter_values",
    "sanitize_charge_point_id",
    "start_transaction",
    "status_notification",
    "stop_transaction",
]
