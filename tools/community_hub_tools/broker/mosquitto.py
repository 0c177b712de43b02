"""A local Mosquitto started from the project's own configuration (tests and benchmarks).

The configuration is docker/mosquitto/mosquitto.conf with the listener,
persistence directory and authentication rewritten for a throwaway broker on
127.0.0.1, so tests and benchmarks measure the tuning that deployments run.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

# The checkout this file is in (tools/community_hub_tools/broker/): the tools run from one.
REPO_ROOT: Final = Path(__file__).resolve().parents[3]
MOSQUITTO_CONF: Final = REPO_ROOT / "docker" / "mosquitto" / "mosquitto.conf"

# Directives the shipped configuration must carry; the derived test config
# refuses to start without them, so deleting one fails the tests loudly.
REQUIRED_TUNING: Final = (
    "persistence",
    "persistence_location",
    "autosave_interval",
    "persistent_client_expiration",
    "set_tcp_nodelay",
    "max_inflight_messages",
    "max_queued_messages",
    "max_queued_bytes",
)

# Rewritten or dropped for tests; everything else is copied verbatim.
_DROPPED: Final = frozenset({"password_file", "acl_file", "user"})

INSTALL_HINT: Final = (
    "Mosquitto is not installed; install it to run the broker tests "
    "(Debian/Ubuntu: sudo apt-get install mosquitto; macOS: brew install mosquitto), "
    "or put the mosquitto binary on PATH"
)

START_TIMEOUT_S: Final = 10.0


_EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_FIRST_FREE_PORT: Final = 15000
# LOW-HIGH: the ports free_port may choose from in this process and its children.
PORTS_VARIABLE: Final = "CHUB_FREE_PORTS"
_handed_out: set[int] = set()
# Its own generator: hypothesis reseeds the global one between examples.
_rng = random.Random()


def _ephemeral_low() -> int:
    try:
        return int(_EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_range() -> tuple[int, int]:
    """The ports ``free_port`` picks from: ``low <= port < high``.

    ``CHUB_FREE_PORTS=LOW-HIGH`` narrows them: parallel test workers each get a
    slice of their own (tests/conftest.py), so two processes never choose the
    same port in the moment between choosing it and binding it.
    """
    low, high = _FIRST_FREE_PORT, min(_ephemeral_low(), 65536)
    narrowed = os.environ.get(PORTS_VARIABLE, "")
    if narrowed:
        first, _, last = narrowed.partition("-")
        low, high = max(low, int(first)), min(high, int(last))
        if high - low < 1:
            raise RuntimeError(f"{PORTS_VARIABLE}={narrowed}: no port below the ephemeral range")
    return low, high


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on, for a server this process starts soon.

    Chosen below the kernel's ephemeral range: a port the OS picked (bind to 0)
    can be taken as the source port of any outgoing connection before the
    server binds it, which made tests fail now and then with EADDRINUSE. Ports
    are not handed out twice by one process, nor by two processes given
    different ranges (``port_range``).
    """
    low, high = port_range()
    for _ in range(200):
        port = _rng.randrange(low, high)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free TCP port found below the ephemeral range")


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary, or None."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in (
        "/usr/sbin/mosquitto",
        "/usr/local/sbin/mosquitto",
        "/opt/homebrew/sbin/mosquitto",
    ):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def derive_test_config(source: str, *, port: int, data_dir: Path, host: str = "127.0.0.1") -> str:
    """The test broker's configuration, derived from the shipped ``source`` text.

    Keeps every line, tuning included, except: the single ``listener`` moves to
    ``host:port``, ``persistence_location`` becomes ``data_dir``,
    ``allow_anonymous`` becomes true, and ``password_file``, ``acl_file`` and
    ``user`` are dropped. When run as root, ``user root`` is added so that
    Mosquitto does not drop to the ``mosquitto`` user, which could not write
    ``data_dir``. Raises ValueError if the source lacks a required tuning line
    or has more than one listener.
    """
    out: list[str] = [
        "# Derived from docker/mosquitto/mosquitto.conf by tests/support/brokers.py.",
    ]
    seen: set[str] = set()
    listeners = 0
    for line in source.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            out.append(line)
            continue
        key = stripped.split(None, 1)[0]
        seen.add(key)
        if key == "listener":
            listeners += 1
            out.append(f"listener {port} {host}")
        elif key == "persistence_location":
            out.append(f"persistence_location {data_dir}{os.sep}")
        elif key == "allow_anonymous":
            out.append("allow_anonymous true")
        elif key in _DROPPED:
            out.append(f"# (test broker) dropped: {stripped}")
        else:
            out.append(line)
    missing = [key for key in REQUIRED_TUNING if key not in seen]
    if missing:
        raise ValueError(f"mosquitto.conf lacks required tuning: {', '.join(missing)}")
    if listeners != 1:
        raise ValueError(f"expected exactly one listener in mosquitto.conf, found {listeners}")
    if "allow_anonymous" not in seen:
        out.append("allow_anonymous true")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        out.append("user root")
    return "\n".join(out) + "\n"


class MosquittoProcess:
    """A mosquitto broker process with its own config, data and log in ``tmp_dir``.

    ``host``/``port`` is where clients connect. ``stop()`` ends it cleanly
    (SIGTERM: Mosquitto writes its persistence database), ``kill()`` abruptly
    (SIGKILL: only the last autosave survives), ``restart()`` starts it again
    on the same port with the same persistence directory.
    """

    def __init__(self, binary: str, tmp_dir: Path, port: int, host: str = "127.0.0.1") -> None:
        self.binary = binary
        self.host = host
        self.port = port
        self.tmp_dir = tmp_dir
        self.data_dir = tmp_dir / "data"
        self.config_path = tmp_dir / "mosquitto.conf"
        self.log_path = tmp_dir / "mosquitto.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        text = derive_test_config(
            MOSQUITTO_CONF.read_text(encoding="utf-8"),
            port=self.port,
            data_dir=self.data_dir,
            host=self.host,
        )
        self.config_path.write_text(text, encoding="utf-8")

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Launch the broker and wait until it accepts TCP connections."""
        if self.running:
            raise RuntimeError(f"mosquitto is already running on port {self.port}")
        if not self.config_path.exists():
            self.write_config()
        with self.log_path.open("ab") as log:
            log.write(f"--- starting {self.binary} -c {self.config_path}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                [self.binary, "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                self._proc = None
                raise RuntimeError(
                    f"mosquitto exited with status {code} while starting on port {self.port};"
                    f" its log:\n{self.log_text()}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"mosquitto did not accept connections on {self.host}:{self.port} within"
                    f" {timeout:.0f} s; its log:\n{self.log_text()}"
                )
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM and wait (Mosquitto saves its database); SIGKILL if it hangs."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """SIGKILL and wait: a crash, with no final database save."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.kill()
        proc.wait()

    def restart(self, timeout: float = START_TIMEOUT_S) -> None:
        """Stop (cleanly, if still running) and start again, same port and data."""
        self.stop()
        self.start(timeout)

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"MosquittoProcess({self.host}:{self.port}, {state})"


@contextlib.asynccontextmanager
async def started_mosquitto(work: Path, needed_by: str) -> AsyncIterator[MosquittoProcess]:
    """A Mosquitto from the shipped configuration in ``work/mosquitto`` on a free port,
    stopped on leaving; asynchronous to sit among a benchmark's other contexts."""
    binary = find_mosquitto()
    if binary is None:
        raise RuntimeError(f"{needed_by} needs Mosquitto (apt-get install mosquitto)")
    broker = MosquittoProcess(binary, work / "mosquitto", free_port())
    broker.write_config()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
