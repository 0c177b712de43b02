"""The edge's MQTT connections, made from its settings: the upstream broker the hub
reads, and the community's local broker for Zigbee2MQTT and Tuya locks."""

from __future__ import annotations

from typing import Literal

from chub_mqtt import MqttConnection
from edge.settings import EdgeSettings


def upstream(
    settings: EdgeSettings, client_id: str, protocol: Literal["5", "3.1.1"] | None = None
) -> MqttConnection:
    """The broker between this gateway and the hub (``protocol``: the settings' unless
    given)."""
    s = settings
    return MqttConnection(
        host=s.mqtt_host,
        port=s.mqtt_port,
        client_id=client_id,
        username=s.mqtt_username,
        password=s.mqtt_password.get_secret_value() if s.mqtt_password else None,
        keepalive_s=s.mqtt_keepalive_s,
        protocol=protocol or s.mqtt_protocol,
    )


def local(settings: EdgeSettings, client_id: str) -> MqttConnection:
    """The local broker the lock bridges publish to (by default the upstream one).
    It speaks MQTT 3.1.1 at least: Zigbee2MQTT's brokers often nothing newer."""
    s = settings
    return MqttConnection(
        host=s.local_mqtt_host or s.mqtt_host,
        port=s.local_mqtt_port or s.mqtt_port,
        client_id=client_id,
        username=s.mqtt_username,
        password=s.mqtt_password.get_secret_value() if s.mqtt_password else None,
        keepalive_s=s.mqtt_keepalive_s,
        protocol="3.1.1",
    )
