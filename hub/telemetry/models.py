"""One measurement taken from one event, in the schema the dashboards are built on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class TelemetryPoint:
    """An InfluxDB-shaped point: measurement, tags, numeric fields, the event's time.

    ``device_id`` and ``community_id`` are tags too; they are kept apart because
    the embedded history indexes and scopes by them. ``tags`` holds the rest
    (family, port, direction), which tell two series of one device apart.
    """

    measurement: str
    device_id: str
    community_id: int | None
    tags: tuple[tuple[str, str], ...]
    fields: tuple[tuple[str, float], ...]
    time: datetime

    @property
    def series(self) -> str:
        """The extra tags as one stable string (``port=1``), '' when there are none."""
        return ",".join(f"{key}={value}" for key, value in self.tags)

    def all_tags(self) -> dict[str, str]:
        tags = {"device_id": self.device_id, **dict(self.tags)}
        if self.community_id is not None:
            tags["community_id"] = str(self.community_id)
        return tags


# The schema's measurements and their fields (docs/telemetry.md).
SCHEMA: dict[str, tuple[str, ...]] = {
    "vitals": ("heart_rate", "systolic", "diastolic", "spo2"),
    "battery": ("percent",),
    "charger": ("power_w", "energy_wh"),
    "gate_passes": ("count",),
}
