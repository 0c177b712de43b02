"""How every process of the hub writes its log lines (the CLI, the MQTT receiver, API workers).

Full local timestamps with the UTC offset (``2026-12-07T20:15:03.412+08:00``), so lines
from processes, machines and days can be put side by side. ``HUB_LOG_FORMAT=json``
writes one JSON object per line instead, for a log collector.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime

from pythonjsonlogger.json import JsonFormatter

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"


def _local_time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created).astimezone()
    return moment.isoformat(timespec="milliseconds")


class _TextFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _local_time(record)


class _JsonLines(JsonFormatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _local_time(record)


def wants_json() -> bool:
    return os.environ.get("HUB_LOG_FORMAT", "text").strip().lower() == "json"


def setup_logging(level: int) -> None:
    """Log to standard error at ``level``, as text or (HUB_LOG_FORMAT=json) JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(_JsonLines(_JSON_FIELDS) if wants_json() else _TextFormatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
