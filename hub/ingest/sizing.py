"""How many telemetry messages go into one transaction.

SQLite has one writer, so an SOS that arrives while a telemetry batch is being
stored waits for that transaction to end. A fixed 500-message batch took about
160 ms on the benchmark machine under load, most of the loaded SOS delay.
The sizer aims for transactions of about ``target_ms``: it keeps a moving
average of the time per message and sizes the next telemetry batch to fit,
between ``floor`` (so per-transaction costs stay small) and the configured
batch size. Alarm batches are not measured: they are few and small.
"""

from __future__ import annotations


class BatchSizer:
    def __init__(self, ceiling: int, target_ms: float, floor: int = 50) -> None:
        self.ceiling = ceiling
        self.floor = min(floor, ceiling)
        self.target_ms = target_ms
        self._ms_per_item: float | None = None

    def limit(self) -> int:
        if self.target_ms <= 0 or self._ms_per_item is None or self._ms_per_item <= 0:
            return self.ceiling
        fits = int(self.target_ms / self._ms_per_item)
        return max(self.floor, min(self.ceiling, fits))

    def observe(self, items: int, elapsed_ms: float) -> None:
        """Record a stored telemetry batch; batches of a handful say little about cost."""
        if items < 10:
            return
        per_item = elapsed_ms / items
        previous = self._ms_per_item
        self._ms_per_item = per_item if previous is None else 0.7 * previous + 0.3 * per_item
