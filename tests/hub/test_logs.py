"""Log lines carry a full timestamp with its offset; HUB_LOG_FORMAT=json makes JSON lines."""

from __future__ import annotations

import json
import re
import subprocess
import sys

_EMIT = (
    "import logging; from hub.logs import setup_logging; setup_logging(logging.INFO); "
    "logging.getLogger('hub.test').warning('SOS of %s', 'Sun Lihua')"
)


def _stderr(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _EMIT], env=env, capture_output=True, text=True, check=True
    )
    return done.stderr.strip()


def test_text_lines_have_date_time_and_offset() -> None:
    line = _stderr({"TZ": "Asia/Shanghai", "PATH": "/usr/bin:/bin"})
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00 WARNING hub\.test: SOS of Sun Lihua", line
    ), line


def test_json_lines_parse_and_keep_the_fields() -> None:
    line = _stderr({"TZ": "Asia/Shanghai", "HUB_LOG_FORMAT": "json", "PATH": "/usr/bin:/bin"})
    record = json.loads(line)
    assert record["message"] == "SOS of Sun Lihua" and record["levelname"] == "WARNING"
    assert record["name"] == "hub.test" and record["asctime"].endswith("+08:00")


def test_the_cli_says_its_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "--version"], capture_output=True, text=True, check=True
    )
    assert re.fullmatch(r"community-hub \d+\.\d+\.\d+", done.stdout.strip()), done.stdout
