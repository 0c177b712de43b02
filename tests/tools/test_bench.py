"""The benchmark command: codecs, SOS latency, and each writes its own section of the report."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from community_hub_tools.bench.codecs import markdown, run_codec_bench
from community_hub_tools.bench.report import write_section
from community_hub_tools.bench.samples import SAMPLES
from community_hub_tools.bench.sos import markdown as sos_markdown
from community_hub_tools.bench.sos import run_sos_bench
from community_hub_tools.bench.stats import percentile
from community_hub_tools.broker.mosquitto import INSTALL_HINT, find_mosquitto


def test_codec_bench_measures_every_codec_with_samples() -> None:
    results = run_codec_bench(seconds_per_codec=0.05, progress=False)
    assert {r.adapter for r in results} == set(SAMPLES)
    for r in results:
        assert r.frames_per_s_full > 0 and r.events_per_frame >= 0
    table = markdown(results, 0.05)
    assert "| `watch` | tcp |" in table


@pytest.mark.e2e
async def test_sos_bench_times_every_alarm_to_the_volunteers_stream() -> None:
    if find_mosquitto() is None and os.environ.get("CI", "").lower() != "true":
        pytest.skip(INSTALL_HINT)
    result = await run_sos_bench(
        samples=5, background_rate=200, sample_every_s=0.1, warmup_s=1, progress=False
    )
    for phase in (result.idle, result.loaded):
        assert phase.sent == phase.arrived == 5
        for sample in phase.samples:
            assert sample.latency_ms is not None and 0 < sample.latency_ms < 30_000
            assert math.isfinite(sample.latency_ms)
            assert sample.edge_reply_ms is not None and sample.edge_reply_ms > 0
            # The breakdown found each stored SOS event.
            assert sample.edge_to_hub_ms is not None and sample.hub_to_stream_ms is not None
    assert result.volunteer.startswith("vol.")
    assert result.stream_kinds["ticket.assigned"] >= 10 and result.lagged == 0
    load = result.load
    assert load.acknowledged > 0 and load.acknowledged == load.published
    assert result.load_stored == load.acknowledged and result.drain_s is not None
    table = sos_markdown(result)
    assert "| hub otherwise idle | 5 / 5 |" in table and "(lost: 0)" in table


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 201)]
    assert percentile(values, 50) == 100
    assert percentile(values, 99) == 198
    assert percentile(values, 100) == 200
    assert math.isnan(percentile([], 99))


def test_sections_are_replaced_not_appended(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    write_section(report, "codecs", "first")
    write_section(report, "other", "kept")
    write_section(report, "codecs", "second")
    text = report.read_text()
    assert text.startswith("# Benchmarks")
    assert "second" in text and "first" not in text and "kept" in text
    assert text.count("<!-- bench:codecs -->") == 1
