"""The MQTT broker the demo embeds. Deployments use Mosquitto (docker/mosquitto/)."""

from hub.broker.embedded import EmbeddedBroker

__all__ = ["EmbeddedBroker"]
