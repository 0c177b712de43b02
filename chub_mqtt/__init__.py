"""The one MQTT client of the hub and the edge, and the topic grammar between them.

It sits below both (it imports nothing of ``device_adapters``, ``edge``, ``hub`` or
``api``): :class:`Client` wraps paho-mqtt for asyncio once, configured by a
:class:`MqttConnection`; :mod:`chub_mqtt.topics` names every ``chub/v1/...`` topic.
"""

from chub_mqtt.client import Client, Message, MqttError, PubAck, Will
from chub_mqtt.connection import MqttConnection, Tls

__all__ = ["Client", "Message", "MqttConnection", "MqttError", "PubAck", "Tls", "Will"]
