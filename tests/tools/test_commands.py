"""The tools' subcommands reach `community-hub` through entry points, and the benchmark
writes its report only where it is told."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from hub.cli import COMMANDS_GROUP, TOOL_COMMANDS, build_parser, main

REPO = Path(__file__).resolve().parents[2]


def test_demo_simulate_and_bench_come_from_the_tools_entry_points() -> None:
    entries = {
        entry.name: entry.value
        for entry in importlib.metadata.entry_points(group=COMMANDS_GROUP)
        if entry.dist is not None and entry.dist.name == "community-hub-tools"
    }
    assert set(entries) == set(TOOL_COMMANDS)
    assert all(value.startswith("community_hub_tools.") for value in entries.values())
    args = build_parser().parse_args(["demo", "--api-port", "8123", "--no-simulator"])
    assert args.api_port == 8123 and args.no_simulator and args.run is not None


def test_bench_writes_its_section_where_told_and_nothing_in_the_checkout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = REPO / "docs" / "benchmarks.md"
    before = report.stat().st_mtime_ns
    out = tmp_path / "benchmarks.md"
    assert main(["bench", "codecs", "--seconds", "0.01", "--output", str(out)]) == 0
    assert "<!-- bench:codecs -->" in out.read_text()
    assert f"written to {out}" in capsys.readouterr().out
    assert report.stat().st_mtime_ns == before
