"""The MQTT bridge between edge gateways and the hub."""
