"""`community-hub hub` and `community-hub edge` never run as the demo.

Run as a user runs them (a subprocess, the environment only): without HUB_MODE (the
edge: EDGE_MODE) they run in production and say so; set to demo they refuse and point at
`community-hub demo`; in production the hub refuses the demo's JWT secret, both refuse an
open broker, and neither prints a secret it refuses.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hub.settings import DEMO_JWT_SECRET
from tests.support.brokers import MosquittoProcess, free_port

pytestmark = pytest.mark.e2e

JWT_SECRET = "Jx3kQ9vT0bLw7ZpR2mYc8HsN5dFg1UaE-_4qWe6"
MQTT_PASSWORD = "r8Vt-Qm2Lz6Nw0Xk4Pj9Hb"
COMMANDS = ("hub", "edge")
# The hub reads HUB_* variables, an edge gateway EDGE_*.
PREFIX = {"hub": "HUB", "edge": "EDGE"}


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The caller's environment without any HUB_* or EDGE_* setting, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("HUB_", "EDGE_"))}
    mqtt_port = str(free_port())  # nothing listens: a refusal must come first
    env.update(
        PYTHONUNBUFFERED="1",
        HUB_DATA_DIR=str(tmp_path / "data"),
        HUB_API_HOST="127.0.0.1",
        HUB_API_PORT=str(free_port()),
        HUB_MQTT_PORT=mqtt_port,
        EDGE_DATA_DIR=str(tmp_path / "data"),
        EDGE_MQTT_PORT=mqtt_port,
        EDGE_PORTS=f"watch={free_port()}",
        EDGE_HOST="127.0.0.1",
    )
    env.update(settings)
    return env


def _run(command: str, env: dict[str, str]) -> tuple[int, str]:
    """The command's exit status and output; a command that keeps running fails the test."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "hub.cli", command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"`community-hub {command}` started instead of refusing") from exc
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_hub_and_edge_refuse_demo_mode(tmp_path: Path, command: str) -> None:
    mode = f"{PREFIX[command]}_MODE"
    status, output = _run(command, _env(tmp_path, **{mode: "demo"}))
    assert status == 2, output
    assert f"{mode}=demo" in output and "community-hub demo" in output
    assert "Traceback" not in output


def test_without_a_mode_the_hub_runs_in_production_and_refuses_the_demo_secret(
    tmp_path: Path,
) -> None:
    status, output = _run("hub", _env(tmp_path))
    assert status == 2, output
    assert "production mode" in output
    assert "HUB_JWT_SECRET" in output and "demo value" in output
    assert DEMO_JWT_SECRET not in output and "Traceback" not in output


@pytest.mark.parametrize("command", COMMANDS)
def test_production_refuses_an_open_broker(tmp_path: Path, command: str) -> None:
    # The edge issues no tokens: it has no JWT secret to set.
    secret = {"HUB_JWT_SECRET": JWT_SECRET} if command == "hub" else {}
    status, output = _run(command, _env(tmp_path, **secret))
    assert status == 2, output
    assert "production mode" in output
    assert f"{PREFIX[command]}_MQTT_USERNAME" in output and "Traceback" not in output


def test_production_refuses_a_weak_secret_without_printing_it(tmp_path: Path) -> None:
    weak = "community-hub-" * 3
    status, output = _run("hub", _env(tmp_path, HUB_MODE="production", HUB_JWT_SECRET=weak))
    assert status == 2, output
    assert "HUB_JWT_SECRET" in output and "repeats" in output
    assert "community-hub-community" not in output


def test_an_edge_without_a_mode_needs_its_devices_passwords(tmp_path: Path) -> None:
    env = _env(tmp_path, EDGE_MQTT_USERNAME="edge-1", EDGE_MQTT_PASSWORD=MQTT_PASSWORD)
    status, output = _run("edge", env)
    assert status == 2, output
    assert "EDGE_OCPP_CREDENTIALS" in output and "Traceback" not in output


def test_a_hub_without_a_mode_runs_in_production(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    env = _env(
        tmp_path,
        HUB_JWT_SECRET=JWT_SECRET,
        HUB_MQTT_PORT=str(mosquitto.port),
        HUB_MQTT_USERNAME="hub",
        HUB_MQTT_PASSWORD=MQTT_PASSWORD,
    )
    base = f"http://127.0.0.1:{env['HUB_API_PORT']}"
    log = tmp_path / "hub.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "hub"], env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                health = httpx.get(f"{base}/healthz", timeout=5).json()
                if health.get("status") == "ok":  # the broker connection is among its checks
                    break
            except (httpx.HTTPError, ValueError):
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        # Production behaviour: /metrics without a token is off, not open as in the demo,
        # and /healthz tells anyone its verdict but not the figures behind it.
        assert "checks" not in health and "ingest" not in health, health
        assert httpx.get(f"{base}/metrics", timeout=5).status_code == 403
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log.read_text()
    assert "production mode" in output and "HUB_MODE not set" in output
    assert JWT_SECRET not in output and MQTT_PASSWORD not in output
