"""Telemetry batches are sized to a target transaction time, within bounds."""

from __future__ import annotations

from hub.ingest.sizing import BatchSizer


def test_full_batches_until_something_was_measured() -> None:
    assert BatchSizer(500, 50).limit() == 500


def test_slow_storage_shrinks_batches_to_the_target_and_fast_storage_grows_them() -> None:
    sizer = BatchSizer(500, target_ms=50)
    sizer.observe(500, 160.0)  # 0.32 ms per message
    assert sizer.limit() == 156
    for _ in range(30):
        sizer.observe(156, 12.48)  # storage got faster: 0.08 ms per message
    assert sizer.limit() == 500  # 50 ms fits 625 now; the ceiling is 500


def test_limits_stay_between_floor_and_ceiling() -> None:
    sizer = BatchSizer(500, target_ms=50, floor=50)
    sizer.observe(100, 1000.0)  # 10 ms per message would mean batches of 5
    assert sizer.limit() == 50


def test_tiny_batches_and_a_zero_target_leave_the_size_alone() -> None:
    sizer = BatchSizer(500, target_ms=50)
    sizer.observe(3, 300.0)  # three messages say little about the cost
    assert sizer.limit() == 500
    fixed = BatchSizer(500, target_ms=0)
    fixed.observe(500, 5000.0)
    assert fixed.limit() == 500
