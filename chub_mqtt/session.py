"""How a paho-mqtt client is made for a clean or a persistent session.

Persistent (durable consumers: the hub's ingest, the edge's commands and lock
bridges): messages wait in the broker while the process is away, and with
manual acknowledgement a message is acknowledged only once it is handled.

MQTT 5 where the broker speaks it: for shared subscriptions as the standard names
them, for Receive Maximum (the broker sends at most that many unacknowledged
messages, the flow control a consumer acknowledging after its commit needs) and
for PUBACK reason codes. MQTT 3.1.1 where the broker speaks nothing newer (the
demo's embedded amqtt broker, Zigbee2MQTT's local brokers).
"""

from __future__ import annotations

from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from chub_mqtt.connection import MqttConnection

# An MQTT 5 session that never expires: what waits for a consumer that is down
# is kept until it comes back, as a 3.1.1 persistent session is.
SESSION_NEVER_EXPIRES: Final = 0xFFFFFFFF
# CONNACK reason code of a broker that does not speak the version asked for.
UNSUPPORTED_PROTOCOL_VERSION: Final = 0x84


def paho_client(
    connection: MqttConnection,
    protocol: int,
    *,
    persistent: bool,
    manual_ack: bool,
) -> mqtt.Client:
    """A paho client for ``connection`` speaking ``protocol`` (``mqtt.MQTTv5``/``MQTTv311``)."""
    if protocol == mqtt.MQTTv5:
        # MQTT 5 has no clean_session flag: clean_start and the session expiry go
        # with the CONNECT (connect_options).
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=connection.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=manual_ack,
        )
    else:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=connection.client_id,
            clean_session=not persistent,
            protocol=mqtt.MQTTv311,
            manual_ack=manual_ack,
        )
    if connection.username:
        client.username_pw_set(connection.username, connection.password)
    if connection.tls is not None:
        tls = connection.tls
        client.tls_set(ca_certs=tls.ca_file, certfile=tls.cert_file, keyfile=tls.key_file)
    client.reconnect_delay_set(
        min_delay=connection.reconnect_min_s, max_delay=connection.reconnect_max_s
    )
    return client


def persistent_consumer(
    client_id: str, protocol: int = mqtt.MQTTv311, connection: MqttConnection | None = None
) -> mqtt.Client:
    """A bare paho client with a persistent session and manual acknowledgement (the
    benchmarks' floor consumer measures paho without :class:`chub_mqtt.Client`)."""
    base = connection or MqttConnection()
    return paho_client(base.with_client_id(client_id), protocol, persistent=True, manual_ack=True)


def connect_options(
    protocol: int, receive_maximum: int | None = None, *, persistent: bool = True
) -> dict[str, Any]:
    """Keyword arguments of ``connect_async`` for a session of ``protocol``."""
    if protocol != mqtt.MQTTv5:
        return {}
    if not persistent:
        return {"clean_start": True}
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
