"""The outbox report says "filling" at the ratio of its bound or under the free-disk mark."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from edge.outbox import OutboxStats
from edge.outbox_report import disk_free, make_report
from edge.settings import EdgeSettings

MiB = 2**20


def _stats(backlog_bytes: int) -> OutboxStats:
    return OutboxStats(
        stored=10,
        forwarded=4,
        in_flight=0,
        backlog=6,
        backlog_alarms=1,
        backlog_bytes=backlog_bytes,
        thinned=0,
        oldest_age_s=12.5,
        forward_failures=0,
        over_budget=False,
        awaiting_confirmation=3,
    )


def test_filling_at_the_ratio_of_the_bound_or_under_the_free_disk_mark(tmp_path: Path) -> None:
    settings = EdgeSettings(
        data_dir=tmp_path,
        gateway_id="edge-report",
        edge_outbox_max_bytes=100 * MiB,
        edge_outbox_warn_ratio=0.5,
        edge_disk_free_warn_bytes=10 * MiB,
    )
    now = datetime.now(UTC)
    below = make_report(settings, _stats(49 * MiB), 11 * MiB, now)
    assert not below.filling
    assert (below.items, below.alarms, below.bytes, below.max_bytes) == (9, 1, 49 * MiB, 100 * MiB)
    assert make_report(settings, _stats(50 * MiB), 11 * MiB, now).filling
    assert make_report(settings, _stats(0), 9 * MiB, now).filling
    assert not make_report(settings, _stats(0), None, now).filling  # free space unknown
    # The disk under the outbox's file, as the operating system counts it.
    free = disk_free(settings.resolved_outbox_path)
    assert free is not None and free > 0
