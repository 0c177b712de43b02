"""The paho-mqtt client every durable consumer uses (hub ingest, edge commands, lock bridges).

Persistent session, so messages wait in the broker while the process is away;
manual acknowledgement, so a message is acknowledged only once it is handled;
reconnect with backoff. Callers add their callbacks and connect with
``connect_async(..., **connect_options(protocol, ...))``.

MQTT 5 (the hub's connections) for shared subscriptions as the standard names
them and for Receive Maximum: the broker sends at most that many
unacknowledged messages, which is the flow control a consumer acknowledging
after its commit needs. MQTT 3.1.1 where the broker speaks nothing newer (the
demo's embedded amqtt broker, Zigbee2MQTT's local brokers).
"""

from __future__ import annotations

from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.settings import EdgeSettings
from hub.settings import Settings

# An MQTT 5 session that never expires: what waits for a consumer that is down
# is kept until it comes back, as a 3.1.1 persistent session is.
SESSION_NEVER_EXPIRES: Final = 0xFFFFFFFF
# CONNACK reason code of a broker that does not speak the version asked for.
UNSUPPORTED_PROTOCOL_VERSION: Final = 0x84


def persistent_consumer(
    client_id: str, settings: Settings | EdgeSettings, protocol: int = mqtt.MQTTv311
) -> mqtt.Client:
    if protocol == mqtt.MQTTv5:
        # MQTT 5 has no clean_session flag: clean_start=False and the session
        # expiry go with the CONNECT (connect_options).
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
    else:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
    if settings.mqtt_username:
        password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
        client.username_pw_set(settings.mqtt_username, password)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


def connect_options(protocol: int, receive_maximum: int | None = None) -> dict[str, Any]:
    """Keyword arguments of ``connect_async`` for a persistent session of ``protocol``."""
    if protocol != mqtt.MQTTv5:
        return {}
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho: untyped
    properties.SessionExpiryInterval = SESSION_NEVER_EXPIRES
    if receive_maximum is not None:
        properties.ReceiveMaximum = max(1, min(receive_maximum, 65535))
    return {"clean_start": False, "properties": properties}


def refused_for_protocol(client: mqtt.Client, reason: Any) -> bool:
    """True when an MQTT 5 CONNECT was refused because the broker speaks an older MQTT."""
    return bool(
        client.protocol == mqtt.MQTTv5
        and reason.is_failure
        and reason.value == UNSUPPORTED_PROTOCOL_VERSION
    )
