"""The benchmark command measures every codec and writes its own section of the report."""

from __future__ import annotations

from pathlib import Path

from hub.bench.codecs import markdown, run_codec_bench
from hub.bench.report import write_section
from hub.bench.samples import SAMPLES


def test_codec_bench_measures_every_codec_with_samples() -> None:
    results = run_codec_bench(seconds_per_codec=0.05, progress=False)
    assert {r.adapter for r in results} == set(SAMPLES)
    for r in results:
        assert r.frames_per_s_full > 0 and r.events_per_frame >= 0
    table = markdown(results, 0.05)
    assert "| `watch` | tcp |" in table


def test_sections_are_replaced_not_appended(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    write_section(report, "codecs", "first")
    write_section(report, "other", "kept")
    write_section(report, "codecs", "second")
    text = report.read_text()
    assert text.startswith("# Benchmarks")
    assert "second" in text and "first" not in text and "kept" in text
    assert text.count("<!-- bench:codecs -->") == 1
