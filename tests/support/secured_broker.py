"""A real Mosquitto with the shipped configuration, ACL and password file.

The password file is written by the same script the compose file's one-shot
``mqtt-users`` service runs, plus any extra accounts a test names (a lock
bridge's, say, as an operator would add it). Only paths, the listener port and,
when a test asks, the persistence lines are rewritten.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import yaml

from tests.support.brokers import find_mosquitto, free_port

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"

# The passwords the compose script reads from docker/.env.
# Random, as production mode wants them (hub.settings.secret_weakness).
PASSWORDS = {
    "HUB_MQTT_PASSWORD": secrets.token_urlsafe(24),
    "EDGE_MQTT_PASSWORD": secrets.token_urlsafe(24),
}


class MissingMosquitto(RuntimeError):
    """Mosquitto (with mosquitto_passwd) is not installed."""


def users_script() -> str:
    """The shell script of the compose file's ``mqtt-users`` service."""
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    service = compose["services"]["mqtt-users"]
    assert service["entrypoint"] == ["/bin/sh", "-ec"]
    script = service["command"][0]
    assert isinstance(script, str)
    return script.replace("$$", "$")


class SecuredBroker:
    """``start()``, ``kill()`` (SIGKILL: no final save), ``stop()``; same port and data."""

    def __init__(
        self,
        work: Path,
        *,
        extra_users: dict[str, str] | None = None,
        persistence: bool = True,
    ) -> None:
        binary = find_mosquitto()
        if binary is None or shutil.which("mosquitto_passwd") is None:
            raise MissingMosquitto("Mosquitto (with mosquitto_passwd) is not installed")
        self.binary = binary
        self.work = work
        self.port = free_port()
        self.passwords = dict(PASSWORDS)
        auth = work / "auth"
        auth.mkdir(parents=True)
        script = users_script().replace("/mosquitto/auth", str(auth))
        if os.geteuid() != 0:  # only root may chown; the rest of the script runs as shipped
            script = "\n".join(line for line in script.splitlines() if "chown" not in line)
        subprocess.run(["/bin/sh", "-ec", script], env={**os.environ, **PASSWORDS}, check=True)
        for user, password in (extra_users or {}).items():
            subprocess.run(
                ["mosquitto_passwd", "-b", str(auth / "passwd"), user, password], check=True
            )
        self.passwd = auth / "passwd"
        rewritten = []
        for line in (DOCKER / "mosquitto/mosquitto.conf").read_text().splitlines():
            key = line.split(None, 1)[0] if line.strip() and not line.startswith("#") else ""
            if key == "listener":
                line = f"listener {self.port} 127.0.0.1"
            elif key == "persistence_location":
                line = f"persistence_location {work}/"
            elif key == "persistence" and not persistence:
                line = "persistence false"
            elif key == "password_file":
                assert line.split()[1] == "/mosquitto/auth/passwd"  # where mqtt-users writes it
                line = f"password_file {self.passwd}"
            elif key == "acl_file":
                assert line.split()[1] == "/mosquitto/config/acl"  # where compose mounts it
                line = f"acl_file {DOCKER / 'mosquitto/acl'}"
            rewritten.append(line)
        if os.geteuid() == 0:
            rewritten.append("user root")
        self.config = work / "mosquitto.conf"
        self.config.write_text("\n".join(rewritten) + "\n")
        self.log_path = work / "mosquitto.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout_s: float = 15) -> None:
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [self.binary, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        while True:
            assert self._proc.poll() is None, self.log_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "mosquitto did not start listening"
                time.sleep(0.05)

    def kill(self) -> None:
        """A crash: SIGKILL, so only what the last autosave wrote survives."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
