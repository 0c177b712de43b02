"""metrics domain: what the hub and the edge expose to Prometheus (docs/deployment.md)."""

from hub.metrics.service import HubMetrics

__all__ = ["HubMetrics"]
