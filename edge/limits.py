"""Bounds shared by the device-facing servers: connections, dead letters, log lines.

Every server (TCP stream, OCPP, HTTP push) owns one :class:`ConnectionLimits`:

- **Connections.** :meth:`ConnectionLimits.admit` is asked at accept time. It refuses a
  connection over ``edge_max_connections`` in all, over
  ``edge_max_connections_per_address`` from its remote address (high, because many
  devices share one carrier NAT address), or over ``edge_max_unidentified``
  connections that have not identified themselves yet (no device id known). The
  server closes a refused connection at once; the refusal is counted. An admitted
  connection must identify within ``edge_unidentified_timeout_s`` or the server
  closes it; garbage cannot hold a slot for the long idle timeout devices get.
- **Dead letters.** A connection gets a :class:`WindowBudget` of dead letters (count
  and bytes per ``edge_dead_letter_window_s``), and the server one for all its
  connections together. Past either, a dead letter is counted, not stored: garbage
  must not fill the disk that alarms need. :meth:`ConnectionLimits.bound_raw` cuts
  the raw bytes kept in one dead letter.
- **Log lines.** Lines about refusals, garbage and handshake errors go through
  :attr:`ConnectionLimits.log`, a logger that lets ``LOG_LINES_PER_WINDOW`` through per
  ``LOG_WINDOW_S`` and counts the rest: one log line per garbage connection would let
  anyone flood the log.

The counters are in :class:`ConnectionStats`; the edge's metrics endpoint reads them
(``edge.metrics``).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Final, Literal

from edge.settings import EdgeSettings

LOG_LINES_PER_WINDOW: Final = 10
LOG_WINDOW_S: Final = 60.0
_MAX_REASON: Final = 1000  # DeadLetter.reason max_length

_Clock = Callable[[], float]

_BUSY_TEXT: Final = b"too many connections; try again later\n"
# What the HTTP-based servers (OCPP's handshake, HTTP push) write to a connection they
# refuse, before closing it: a device can tell "busy, retry" from a broken network.
HTTP_BUSY_RESPONSE: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Retry-After: 30\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: " + str(len(_BUSY_TEXT)).encode() + b"\r\n"
    b"Connection: close\r\n\r\n" + _BUSY_TEXT
)


@dataclass
class ConnectionStats:
    """Counters of one server since start (and two gauges: open, unidentified)."""

    open: int = 0
    unidentified: int = 0
    refused_max_connections: int = 0
    refused_per_address: int = 0
    refused_unidentified: int = 0
    # Closed because they did not identify within edge_unidentified_timeout_s.
    unidentified_timeouts: int = 0
    # Dead letters counted but not stored (a connection's or the server's bound).
    dead_letters_suppressed: int = 0
    log_lines_suppressed: int = 0

    @property
    def refused(self) -> int:
        return self.refused_max_connections + self.refused_per_address + self.refused_unidentified


class WindowBudget:
    """At most ``count`` items and ``nbytes`` bytes per fixed window of ``window_s``."""

    def __init__(
        self, count: int, nbytes: int, window_s: float, clock: _Clock = time.monotonic
    ) -> None:
        self._count, self._nbytes, self._window_s, self._clock = count, nbytes, window_s, clock
        self._started = clock()
        self._used_count = 0
        self._used_bytes = 0

    def allows(self, size: int) -> bool:
        now = self._clock()
        if now - self._started >= self._window_s:
            self._started, self._used_count, self._used_bytes = now, 0, 0
        return self._used_count < self._count and self._used_bytes + size <= self._nbytes

    def take(self, size: int) -> None:
        self._used_count += 1
        self._used_bytes += size


class _RateLimit(logging.Filter):
    """Lets ``lines`` records through per window; counts the others in ``stats``."""

    def __init__(
        self, stats: ConnectionStats, summary: logging.Logger, what: str, clock: _Clock
    ) -> None:
        super().__init__()
        self._stats, self._summary, self._what, self._clock = stats, summary, what, clock
        self._started = clock()
        self._passed = 0
        self._suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO:
            return True  # debug output is asked for on purpose
        now = self._clock()
        if now - self._started >= LOG_WINDOW_S:
            if self._suppressed:
                self._summary.warning(
                    "%d more log lines about %s were not written in the last %.0f s",
                    self._suppressed,
                    self._what,
                    now - self._started,
                )
            self._started, self._passed, self._suppressed = now, 0, 0
        if self._passed < LOG_LINES_PER_WINDOW:
            self._passed += 1
            return True
        self._suppressed += 1
        self._stats.log_lines_suppressed += 1
        return False


class _ChildLogger(logging.Logger):
    """A logger outside the registry: it asks its parent's level every time.

    (The registry clears cached levels of the loggers it knows when a level changes;
    this one it does not know.)
    """

    def isEnabledFor(self, level: int) -> bool:
        if self.disabled or self.manager.disable >= level:
            return False
        return level >= self.getEffectiveLevel()


def rate_limited_logger(
    parent: logging.Logger,
    stats: ConnectionStats,
    what: str,
    clock: _Clock = time.monotonic,
) -> logging.Logger:
    """A child of ``parent`` whose records pass at a bounded rate.

    Made by hand rather than by ``logging.getLogger`` so that each server has its own
    (and its own window) and none outlives it in the logging registry; records still
    reach ``parent``'s handlers and level.
    """
    logger = _ChildLogger(f"{parent.name}.limited")
    logger.parent = parent
    logger.addFilter(_RateLimit(stats, parent, what, clock))
    return logger


class Admission:
    """One admitted connection's place in its server's counts."""

    __slots__ = ("_limits", "address", "identified", "released")

    def __init__(self, limits: ConnectionLimits, address: str) -> None:
        self._limits = limits
        self.address = address
        self.identified = False
        self.released = False

    def identify(self) -> None:
        """The connection said who it is: it no longer counts as unidentified."""
        if not self.identified and not self.released:
            self.identified = True
            self._limits.stats.unidentified -= 1

    def release(self) -> None:
        """The connection closed (idempotent)."""
        if not self.released:
            self.released = True
            self._limits._release(self)


class ConnectionLimits:
    """One server's bounds (see the module docstring)."""

    def __init__(
        self,
        settings: EdgeSettings,
        server: str,
        logger: logging.Logger,
        clock: _Clock = time.monotonic,
    ) -> None:
        self.server = server
        self.max_connections = settings.edge_max_connections
        self.max_per_address = settings.edge_max_connections_per_address
        self.max_unidentified = settings.edge_max_unidentified
        self.unidentified_timeout_s = settings.edge_unidentified_timeout_s
        self.raw_max_bytes = settings.edge_dead_letter_raw_max_bytes
        self._settings = settings
        self._clock = clock
        self.stats = ConnectionStats()
        self._per_address: Counter[str] = Counter()
        # Refusals, garbage and handshake errors: a bounded number of lines per window.
        self.log = rate_limited_logger(logger, self.stats, f"{server} connections", clock)
        self._server_dead_letters = WindowBudget(
            settings.edge_dead_letters_per_server,
            settings.edge_dead_letter_bytes_per_server,
            settings.edge_dead_letter_window_s,
            clock,
        )

    def admit(self, address: str, peer: str | None = None) -> Admission | None:
        """A place for a new connection from ``address``, or None (counted and logged)."""
        s = self.stats
        if s.open >= self.max_connections:
            s.refused_max_connections += 1
            why = f"{self.max_connections} connections open"
        elif self._per_address[address] >= self.max_per_address:
            s.refused_per_address += 1
            why = f"{self.max_per_address} connections open from {address}"
        elif s.unidentified >= self.max_unidentified:
            s.refused_unidentified += 1
            why = f"{self.max_unidentified} connections not identified yet"
        else:
            s.open += 1
            s.unidentified += 1
            self._per_address[address] += 1
            return Admission(self, address)
        self.log.warning("%s connection from %s refused: %s", self.server, peer or address, why)
        return None

    def _release(self, admission: Admission) -> None:
        self.stats.open -= 1
        if not admission.identified:
            self.stats.unidentified -= 1
        self._per_address[admission.address] -= 1
        if self._per_address[admission.address] <= 0:
            del self._per_address[admission.address]

    def unidentified_timed_out(self, peer: str) -> None:
        self.stats.unidentified_timeouts += 1
        self.log.info(
            "%s connection from %s closed: not identified within %g s",
            self.server,
            peer,
            self.unidentified_timeout_s,
        )

    def dead_letter_budget(self) -> WindowBudget:
        """A new budget for one connection (or one remote address)."""
        s = self._settings
        return WindowBudget(
            s.edge_dead_letters_per_connection,
            s.edge_dead_letter_bytes_per_connection,
            s.edge_dead_letter_window_s,
            self._clock,
        )

    def take_dead_letter(
        self, budget: WindowBudget, size: int
    ) -> Literal["connection", "server"] | None:
        """Reserve room for a dead letter of ``size`` raw bytes: None, or whose bound is full.

        A refusal is counted; the caller keeps nothing (and may log through ``log``).
        """
        if not budget.allows(size):
            self.stats.dead_letters_suppressed += 1
            return "connection"
        if not self._server_dead_letters.allows(size):
            self.stats.dead_letters_suppressed += 1
            return "server"
        budget.take(size)
        self._server_dead_letters.take(size)
        return None

    def bound_raw(self, raw: bytes, reason: str) -> tuple[bytes, str]:
        """``raw`` cut to the bound, and ``reason`` saying so when it was cut."""
        if len(raw) <= self.raw_max_bytes:
            return raw, reason
        cut = f" (raw truncated to {self.raw_max_bytes} of {len(raw)} bytes)"
        return raw[: self.raw_max_bytes], reason[: _MAX_REASON - len(cut)] + cut


def peer_address(peername: object) -> tuple[str, str]:
    """``(host, "host:port")`` of a socket's peername (IPv6 as ``[host]:port``)."""
    if isinstance(peername, tuple) and len(peername) >= 2:
        host, port = str(peername[0]), peername[1]
        return host, f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(peername), str(peername)


def connection_stats(servers: Mapping[str, object]) -> dict[str, ConnectionStats]:
    """A copy of each server's connection counters, by server name (for the metrics)."""
    out: dict[str, ConnectionStats] = {}
    for name, server in servers.items():
        limits = getattr(server, "limits", None)
        if isinstance(limits, ConnectionLimits):
            out[name] = replace(limits.stats)
    return out
