"""What the API needs from the running hub, handed over at app creation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.settings import Settings
from hub.storage.db import Database


@dataclass
class ApiContext:
    db: Database
    settings: Settings
    # Live figures for /healthz (MQTT connection, ingest counters); empty when not wired.
    health_probes: dict[str, Callable[[], Any]] = field(default_factory=dict)
