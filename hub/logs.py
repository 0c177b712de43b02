"""How the hub's processes write their log lines (the CLI and the MQTT receiver alike)."""

from __future__ import annotations

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LOG_DATE_FORMAT = "%H:%M:%S"
