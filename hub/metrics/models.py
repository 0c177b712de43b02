"""Names shared by the metrics collectors: the prefix and the alert latency buckets."""

from __future__ import annotations

from typing import Final

PREFIX: Final = "chub"

# Alert latency, edge reception → alert committed: an SOS normally takes tens of
# milliseconds; seconds mean a backlog; a minute means an outage was being drained.
LATENCY_BUCKETS_S: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# How long figures counted in the database (tickets, dead letters) are reused
# between scrapes: two Prometheus servers or a refreshing dashboard should not
# each cost a GROUP BY.
DB_COUNTS_TTL_S: Final = 10.0
