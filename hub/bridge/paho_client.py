"""The paho-mqtt client every durable consumer uses (hub ingest, edge commands, lock bridges).

Persistent session, so messages wait in the broker while the process is away;
manual acknowledgement, so a message is acknowledged only once it is handled;
reconnect with backoff. Callers add their callbacks and connect.
"""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.settings import Settings


def persistent_consumer(client_id: str, settings: Settings) -> mqtt.Client:
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
