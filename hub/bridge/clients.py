"""The hub's two MQTT connections, as :class:`chub_mqtt.Client` s made from its settings.

Both are persistent sessions under fixed client ids with manual acknowledgement:
what arrives while the hub is down waits in the broker, and a message is
acknowledged only after the transaction that stores it has committed.

- main (``hub_client_id``): telemetry, dead letters, availability, gateway status,
  command results. Its will and its message on every connection are the hub's
  retained ``offline``/``online`` status. Receive Maximum and the inbox bound are
  the inbox's size: the broker sends no more unacknowledged messages than that,
  and paho's network thread stops reading when that many wait (Mosquitto 2.0 does
  not keep to ``max_inflight_messages`` once acknowledgements flow).
- alarms (``{hub_client_id}-alarms``): the alarm lane only, so an SOS never queues
  behind telemetry already sent to the hub; no window: alarms are few and must never
  wait for one. Commands and confirmations leave on it too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from chub_mqtt import Client, MqttConnection, MqttError, Will
from chub_mqtt.topics import alarm_client_id, hub_status_topic
from hub.bridge.subscriptions import outgrown, subscriptions
from hub.settings import MqttSettings


def hub_connection(mqtt: MqttSettings, client_id: str) -> MqttConnection:
    return MqttConnection(
        host=mqtt.host,
        port=mqtt.port,
        client_id=client_id,
        username=mqtt.username,
        password=mqtt.password.get_secret_value() if mqtt.password else None,
        keepalive_s=mqtt.keepalive_s,
        protocol=mqtt.protocol,
    )


def main_client(
    mqtt: MqttSettings, inbox_limit: int, on_connection: Callable[[bool], None] | None = None
) -> Client:
    status = hub_status_topic(mqtt.client_id)
    return Client(
        hub_connection(mqtt, mqtt.client_id),
        persistent=True,
        manual_ack=True,
        subscriptions=subscriptions("main", mqtt.shared_group),
        unsubscribe=outgrown("main", mqtt.shared_group),
        will=Will(status, b"offline"),
        birth=Will(status, b"online"),
        receive_maximum=inbox_limit,
        inbox_limit=inbox_limit,
        on_connection=on_connection,
        name="hub's main MQTT connection",
    )


def alarm_client(mqtt: MqttSettings) -> Client:
    return Client(
        hub_connection(mqtt, alarm_client_id(mqtt.client_id)),
        persistent=True,
        manual_ack=True,
        subscriptions=subscriptions("alarms", mqtt.shared_group),
        unsubscribe=outgrown("alarms", mqtt.shared_group),
        name="hub's alarm MQTT connection",
    )


async def say_offline(mqtt: MqttSettings, main: Client, within_s: float = 2.0) -> None:
    """Publish the retained ``offline`` status before a clean DISCONNECT (which, unlike
    a lost connection, does not publish the will); bounded, best effort."""
    if not main.connected:
        return
    ack = main.publish_nowait(hub_status_topic(mqtt.client_id), b"offline", retain=True)
    with contextlib.suppress(TimeoutError, MqttError):
        async with asyncio.timeout(within_s):
            await ack
