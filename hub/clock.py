"""The clock the hub's timed work reads: timers, the notification outbox, telemetry upkeep.

Injectable, so tests drive time instead of waiting for it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
