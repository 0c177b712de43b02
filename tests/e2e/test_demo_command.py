"""The README's first command, as a user runs it: `community-hub demo` in a subprocess.

Within a minute the scripted SOS from a simulated watch is an alert and a
dispatched ticket through the API; Ctrl-C stops it cleanly; a taken port is
a one-line message, not a traceback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from community_hub_tools.demo.seed import DEMO_PASSWORD
from tests.support.brokers import free_port

pytestmark = pytest.mark.e2e


def _demo(
    tmp_path: Path, api: int, mqtt: int, watch: int, **settings: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hub.cli",
            "demo",
            "--data-dir",
            str(tmp_path / "data"),
            "--api-port",
            str(api),
            "--mqtt-port",
            str(mqtt),
            "--watch-port",
            str(watch),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            # The other device servers on free ports too, so runs never collide.
            **{
                f"HUB_{name}_PORT": str(free_port())
                for name in ("IW", "EBIKE", "OCPP", "HTTP_PUSH")
            },
            **settings,
        },
    )


def _wait_for_dispatched_ticket(base: str, deadline: float) -> dict[str, object]:
    """The first dispatched ticket of a wristband's SOS or fall (the demo's chargers may
    open tickets of their own first)."""
    with httpx.Client(base_url=base, timeout=5) as client:
        headers: dict[str, str] | None = None
        while time.monotonic() < deadline:
            try:
                if headers is None:
                    token = client.post(
                        "/api/v1/auth/token", data={"username": "admin", "password": DEMO_PASSWORD}
                    )
                    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
                body = client.get("/api/v1/tickets?status=dispatched", headers=headers).json()
            except httpx.TransportError:
                time.sleep(0.5)
                continue
            for ticket in body["items"]:
                alert = client.get(f"/api/v1/alerts/{ticket['alert_id']}", headers=headers)
                if alert.json()["kind"] in ("wristband.sos", "wristband.fall"):
                    found: dict[str, object] = ticket
                    return found
            time.sleep(0.5)
    raise AssertionError("no dispatched SOS or fall ticket within a minute")


def test_demo_shows_an_sos_ticket_within_a_minute_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    api, mqtt, watch = free_port(), free_port(), free_port()
    process = _demo(tmp_path, api, mqtt, watch)
    try:
        ticket = _wait_for_dispatched_ticket(f"http://127.0.0.1:{api}", time.monotonic() + 60)
        assert ticket["assignee_id"] is not None
        # The three people's pages are served by the demo (their data is the API's).
        for page in ("dashboard", "inbox", "charging"):
            served = httpx.get(f"http://127.0.0.1:{api}/{page}", timeout=5)
            assert served.status_code == 200 and "<html" in served.text.lower(), page
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{api}/docs" in output
    for page in ("dashboard", "inbox", "charging", "metrics"):
        assert f"http://127.0.0.1:{api}/{page}" in output, page
    assert DEMO_PASSWORD in output and str(tmp_path / "data") in output
    assert "Stopped." in output and "Traceback" not in output
    assert (tmp_path / "data" / "hub.sqlite3").exists()


def test_a_taken_port_is_reported_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _demo(tmp_path, port, free_port(), free_port())
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 2
    assert f"port {port}" in output and "already in use (HTTP API)" in output
    assert "--api-port" in output and "Traceback" not in output


def test_the_demo_refuses_to_run_as_production(tmp_path: Path) -> None:
    # Only `community-hub demo` is the demo, and it is never anything else: its accounts
    # share a published password. A deployment runs `community-hub hub` and `edge`.
    process = _demo(
        tmp_path,
        free_port(),
        free_port(),
        free_port(),
        HUB_MODE="production",
        HUB_JWT_SECRET="Jx3kQ9vT0bLw7ZpR2mYc8HsN5dFg1UaE-_4qWe6",
    )
    try:
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 2, output
    assert "HUB_MODE=production" in output and "community-hub hub" in output
    assert "Traceback" not in output
