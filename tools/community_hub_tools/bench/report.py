"""Write one benchmark's results into its own section of docs/benchmarks.md.

Each benchmark owns the text between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->``; running one benchmark leaves the others' results alone.
"""

from __future__ import annotations

import platform
import re
from datetime import UTC, datetime
from pathlib import Path

HEADER = """# Benchmarks

Measured by `community-hub bench`, on the machine named in each section. The
machine is shared and noisy: compare figures measured in one run, not across runs.
"""


def machine() -> str:
    import os

    return (
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores{_cpu_and_memory()}, {platform.system()}"
    )


def _cpu_and_memory() -> str:
    """The CPU model and memory, like ``(AMD EPYC, 24 GB)``, from /proc; "" elsewhere."""
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
    except (OSError, StopIteration, ValueError, IndexError):
        return ""
    return f" ({cpu}, {kib / 1024 / 1024:.0f} GB)"


def publish(table: str, name: str, output: Path | None) -> None:
    """Print a benchmark's table and, unless ``output`` is None, write it as its section."""
    print(table)
    if output is not None:
        write_section(output, name, table)
        print(f"\nwritten to {output}")


def write_section(path: Path, name: str, body: str) -> None:
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    stamped = (
        f"{start}\n{body.rstrip()}\n\n"
        f"_Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}._\n{end}"
    )
    text = path.read_text() if path.exists() else HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: stamped, text)
    else:
        text = text.rstrip() + "\n\n" + stamped + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_with_summary(text))


# Each figure's section ends with ``<!-- summary: figure | measured | target | verdict -->``;
# the table at the top is rebuilt from them, so a single benchmark's run updates its row.
_SUMMARY_ROW = re.compile(r"<!-- summary: (.+?) -->")
_SUMMARY_START, _SUMMARY_END = "<!-- summary-table -->", "<!-- /summary-table -->"


# Issue 7's five figures: a figure not measured yet still gets its row, saying so.
_FIGURES = (
    ("1.", "1. ingest, hub / bare consumer", "`community-hub bench ingest`", "≥ 0.5, zero loss"),
    ("2.", "2. SOS latency p99", "`community-hub bench sos`", "< 100 ms idle, < 300 ms loaded"),
    ("3.", "3. API p50 / p99 under load", "`community-hub bench api`", "errors 0"),
    ("4.", "4. peak memory, 100,000 devices", "`community-hub bench memory`", "< 500 MB"),
    (
        "5.",
        "5. ingest, 3 hubs on PostgreSQL / bare consumer",
        "`community-hub bench multihub`",
        "≥ 0.5, zero loss",
    ),
)


def _with_summary(text: str) -> str:
    rows = sorted(set(_SUMMARY_ROW.findall(text)))
    if not rows:
        return text
    for prefix, name, command, target in _FIGURES:
        if not any(row.startswith(prefix) for row in rows):
            rows.append(f"{name} | not measured yet ({command}) | {target} | not measured")
    rows.sort()
    table = "\n".join(
        [
            _SUMMARY_START,
            "## Summary",
            "",
            "| figure | measured | target | verdict |",
            "|---|---|---|---|",
            *(f"| {row} |" for row in rows),
            "",
            "Each row comes from its section below, with that section's date and machine.",
            _SUMMARY_END,
        ]
    )
    pattern = re.compile(re.escape(_SUMMARY_START) + r".*?" + re.escape(_SUMMARY_END), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _m: table, text)
    head, sep, rest = text.partition(HEADER)
    if sep:
        return head + HEADER + "\n" + table + "\n" + rest
    return table + "\n\n" + text
