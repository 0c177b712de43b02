"""The cyclic garbage collector, set for a long-running hub process.

Measured in the ingest benchmark's hub (60,000 messages): the collector took
about a tenth of the hub's main thread, most of it in full collections of
about 80 ms each that rescanned everything startup made (modules, SQLAlchemy
tables and compiled statements, pydantic schemas, the API's routes), which
lives as long as the process. An 80 ms pause also delays an SOS. With the
settings below, three alternating pairs of runs took 7,469, 6,334 and 6,751
messages/s against 6,789, 5,995 and 5,977 without.

Only the processes of the ``community-hub hub`` and ``demo`` commands and the
hub's MQTT receiver process call this; tests and other embedders keep
Python's defaults. In the receiver, three alternating pairs of hub-only runs
took 6,590, 6,164 and 9,311 messages/s against 6,412, 5,535 and 6,700 without.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

# Allocations (net of frees) between young collections; Python's default is 700.
# An ingest batch allocates tens of thousands of objects and frees nearly all of
# them by reference counting, so collecting ten times as rarely finds as much.
YOUNG_THRESHOLD = 7_000


def settle_after_startup() -> None:
    """Call once the process has started: what exists now stays out of later collections.

    Garbage already made is collected first, so nothing unreachable is frozen.
    Frozen objects are still freed by reference counting; only the collector's
    passes skip them.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
    log.debug("garbage collector: %d objects frozen after startup", gc.get_freeze_count())
