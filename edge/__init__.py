"""The edge gateway: device-facing servers that feed bytes to the codecs in
``device_adapters`` and forward the normalized events to the MQTT broker.

- ``edge.uplink``: the MQTT connection (paho-mqtt), publishing events and dead
  letters at QoS 1 and returning only once the broker acknowledged them.
- ``edge.watch_server``: the TCP server the "Watch" wristbands connect to.
- ``edge.gateway``: composes the two; ``run_edge`` backs ``community-hub edge``.

The simulated devices are in the tools (``community_hub_tools.sim``), not here.
"""
