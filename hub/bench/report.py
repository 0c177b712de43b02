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
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}"
    )


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
    path.write_text(text)
