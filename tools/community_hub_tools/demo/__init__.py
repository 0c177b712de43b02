"""The demo: an embedded broker, the edge, the hub and simulated devices in one process."""
