"""A real VictoriaMetrics for tests: it accepts InfluxDB's v2 write API (``/api/v2/write``).

Debian's ``victoria-metrics`` package; started on a free port with a temporary
storage directory, stopped (and startable again on the same port and data)
by the test. VictoriaMetrics names each series ``{measurement}_{field}`` and
keeps the tags as labels; ``/api/v1/export`` reads them back as stored.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from community_hub_tools.broker.mosquitto import free_port
from tests.support.missing import missing

INSTALL_HINT = "VictoriaMetrics is not installed: apt-get install -y victoria-metrics"


def find_victoria() -> str | None:
    return shutil.which("victoria-metrics") or shutil.which("victoria-metrics-prod")


def _require_victoria() -> str:
    binary = find_victoria()
    if binary is not None:
        return binary
    missing(INSTALL_HINT)


class VictoriaMetrics:
    def __init__(self, binary: str, data_dir: Path, port: int) -> None:
        self.binary, self.data_dir, self.port = binary, data_dir, port
        self.url = f"http://127.0.0.1:{port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = data_dir.parent / f"victoria-{port}.log"

    def start(self, timeout_s: float = 20.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    self.binary,
                    f"-httpListenAddr=127.0.0.1:{self.port}",
                    f"-storageDataPath={self.data_dir}",
                    "-retentionPeriod=100y",
                    # Fresh points are searchable at once, not 30 s later.
                    "-search.latencyOffset=0s",
                    "-search.disableCache",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"victoria-metrics exited: {self._log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"victoria-metrics did not answer within {timeout_s}s")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def export(self, match: str) -> list[dict[str, Any]]:
        """Every stored series matching ``match`` (a series selector), with its samples."""
        # Points just written sit in an in-memory buffer until flushed.
        httpx.get(f"{self.url}/internal/force_flush", timeout=10).raise_for_status()
        response = httpx.get(f"{self.url}/api/v1/export", params={"match[]": match}, timeout=10)
        response.raise_for_status()
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def start_victoria(tmp_dir: Path, port: int | None = None) -> VictoriaMetrics:
    """Start one on ``port`` (a free one if None), storing under ``tmp_dir``."""
    server = VictoriaMetrics(_require_victoria(), tmp_dir / "victoria-data", port or free_port())
    server.start()
    return server


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """A real VictoriaMetrics on 127.0.0.1 (``.url``); ``.stop()`` and ``.start()`` again.

    Skipped when not installed (an error when ``CI=true``).
    """
    server = start_victoria(tmp_path)
    try:
        yield server
    finally:
        server.stop()
