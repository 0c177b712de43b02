"""The edge gateway's own Prometheus endpoint: its outbox backlog and its uplink.

Why the edge serves its figures itself instead of reporting them to the hub
over MQTT: the backlog matters most while the uplink is down, which is exactly
when a report over MQTT could not arrive; the hub would show a stale, small
number during the outage. A scrape of the edge sees the live count. The
endpoint is off unless ``EDGE_METRICS_PORT`` is set. With
``EDGE_METRICS_TOKEN`` set it asks for that bearer token, as the hub's does;
without one it answers anyone who can reach it, so bind it to an internal
network (docs/deployment.md).

It also reports the device servers' connection bounds (``edge/limits.py``): open and
unidentified connections, connections refused by each bound, connections closed for
not identifying in time, dead letters counted but not kept, log lines not written.

This module reads the outbox and the servers through protocols, so it needs none
of their classes.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from socketserver import ThreadingMixIn
from typing import Any, Final, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from edge.settings import EdgeSettings
from hub.netutil import PortInUseError, is_addr_in_use

log = logging.getLogger(__name__)

# The hub's metric prefix too (hub/metrics/models.py): one namespace on a dashboard.
PREFIX: Final = "chub"


class OutboxFigures(Protocol):
    """The fields of ``edge.outbox.OutboxStats`` this endpoint reports."""

    @property
    def stored(self) -> int: ...
    @property
    def forwarded(self) -> int: ...
    @property
    def in_flight(self) -> int: ...
    @property
    def backlog(self) -> int: ...
    @property
    def backlog_alarms(self) -> int: ...
    @property
    def backlog_bytes(self) -> int: ...
    @property
    def thinned(self) -> int: ...
    @property
    def oldest_age_s(self) -> float | None: ...
    @property
    def forward_failures(self) -> int: ...
    @property
    def over_budget(self) -> bool: ...


class ConnectionFigures(Protocol):
    """The fields of ``edge.limits.ConnectionStats`` this endpoint reports."""

    @property
    def open(self) -> int: ...
    @property
    def unidentified(self) -> int: ...
    @property
    def refused_max_connections(self) -> int: ...
    @property
    def refused_per_address(self) -> int: ...
    @property
    def refused_unidentified(self) -> int: ...
    @property
    def unidentified_timeouts(self) -> int: ...
    @property
    def dead_letters_suppressed(self) -> int: ...
    @property
    def log_lines_suppressed(self) -> int: ...


class EdgeCollector(Collector):
    def __init__(
        self,
        gateway_id: str,
        outbox_stats: Callable[[], OutboxFigures],
        uplink_connected: Callable[[], bool],
        connections: Callable[[], Mapping[str, ConnectionFigures]] | None = None,
    ) -> None:
        self._gateway_id = gateway_id
        self._outbox_stats = outbox_stats
        self._uplink_connected = uplink_connected
        # Server name -> its connection counters (edge.limits.connection_stats).
        self._connections = connections

    def collect(self) -> Iterator[Metric]:
        s = self._outbox_stats()  # a frozen snapshot: consistent within one scrape
        gauges: list[tuple[str, str, float]] = [
            ("outbox_backlog", "Items in the outbox the broker has not acknowledged", s.backlog),
            ("outbox_backlog_alarms", "Alarm-lane items among them", s.backlog_alarms),
            (
                "outbox_backlog_bytes",
                "Bytes the stored items take (as for the disk bound)",
                s.backlog_bytes,
            ),
            (
                "outbox_oldest_age_seconds",
                "Age of the oldest stored item (0: empty)",
                s.oldest_age_s or 0.0,
            ),
            ("outbox_in_flight", "Items sent to the broker, PUBACK pending", s.in_flight),
            (
                "outbox_over_budget",
                "1 when over the disk bound with nothing left to thin",
                1 if s.over_budget else 0,
            ),
            (
                "uplink_connected",
                "1 when the uplink to the broker is up",
                1 if self._uplink_connected() else 0,
            ),
        ]
        counters: list[tuple[str, str, float]] = [
            (
                "outbox_stored",
                "Items committed to the outbox (devices were acknowledged)",
                s.stored,
            ),
            ("outbox_forwarded", "Items the broker acknowledged", s.forwarded),
            ("outbox_thinned", "Telemetry items dropped by the disk bound", s.thinned),
            (
                "outbox_forward_failures",
                "Sends that failed and will be retried",
                s.forward_failures,
            ),
        ]
        for name, help_text, value in gauges:
            gauge = GaugeMetricFamily(f"{PREFIX}_edge_{name}", help_text, labels=["gateway_id"])
            gauge.add_metric([self._gateway_id], value)
            yield gauge
        for name, help_text, value in counters:
            counter = CounterMetricFamily(f"{PREFIX}_edge_{name}", help_text, labels=["gateway_id"])
            counter.add_metric([self._gateway_id], value)
            yield counter
        if self._connections is not None:
            yield from self._collect_connections(self._connections())

    def _collect_connections(self, servers: Mapping[str, ConnectionFigures]) -> Iterator[Metric]:
        labels = ["gateway_id", "server"]
        open_ = GaugeMetricFamily(
            f"{PREFIX}_edge_connections_open", "Open device connections", labels=labels
        )
        unidentified = GaugeMetricFamily(
            f"{PREFIX}_edge_connections_unidentified",
            "Open device connections that have not said which device they are",
            labels=labels,
        )
        refused = CounterMetricFamily(
            f"{PREFIX}_edge_connections_refused",
            "Connections closed on accept because a bound was reached",
            labels=[*labels, "bound"],
        )
        timeouts = CounterMetricFamily(
            f"{PREFIX}_edge_connections_unidentified_closed",
            "Connections closed for not identifying within EDGE_UNIDENTIFIED_TIMEOUT_S",
            labels=labels,
        )
        suppressed = CounterMetricFamily(
            f"{PREFIX}_edge_dead_letters_suppressed",
            "Dead letters counted but not kept (a connection's or a server's bound)",
            labels=labels,
        )
        quiet = CounterMetricFamily(
            f"{PREFIX}_edge_log_lines_suppressed",
            "Log lines about refusals and bad input not written (rate bound)",
            labels=labels,
        )
        for server, f in sorted(servers.items()):
            key = [self._gateway_id, server]
            open_.add_metric(key, f.open)
            unidentified.add_metric(key, f.unidentified)
            refused.add_metric([*key, "max_connections"], f.refused_max_connections)
            refused.add_metric([*key, "per_address"], f.refused_per_address)
            refused.add_metric([*key, "unidentified"], f.refused_unidentified)
            timeouts.add_metric(key, f.unidentified_timeouts)
            suppressed.add_metric(key, f.dead_letters_suppressed)
            quiet.add_metric(key, f.log_lines_suppressed)
        yield from (open_, unidentified, refused, timeouts, suppressed, quiet)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow scraper never holds the edge's shutdown


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # a scrape every 15 s is not news


def _guarded(app: Any, token: str | None) -> Any:
    """The WSGI app, behind ``Authorization: Bearer <token>`` when a token is set."""
    if token is None:
        return app
    expected = f"Bearer {token}".encode()

    def guarded(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        given = str(environ.get("HTTP_AUTHORIZATION", "")).encode()
        if not hmac.compare_digest(given, expected):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain; charset=utf-8"), ("WWW-Authenticate", "Bearer")],
            )
            return [b"the edge's metrics need Authorization: Bearer <EDGE_METRICS_TOKEN>\n"]
        result: Iterable[bytes] = app(environ, start_response)
        return result

    return guarded


class EdgeMetricsServer:
    """``GET /metrics`` on ``EDGE_METRICS_HOST:EDGE_METRICS_PORT``, in a thread."""

    def __init__(self, settings: EdgeSettings, collector: EdgeCollector) -> None:
        self._host = settings.edge_metrics_host
        self._port = settings.edge_metrics_port
        token = settings.metrics_token
        self._token = token.get_secret_value() if token is not None else None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int | None:
        return self._port

    def start(self) -> None:
        if self._port is None or self._server is not None:
            return
        app = _guarded(make_wsgi_app(self.registry), self._token)
        try:
            server = make_server(
                self._host, self._port, app, server_class=_Server, handler_class=_QuietHandler
            )
        except OSError as exc:
            if is_addr_in_use(exc):
                raise PortInUseError(
                    self._port,
                    "edge metrics endpoint",
                    host=self._host,
                    hint="choose another with EDGE_METRICS_PORT",
                ) from exc
            raise
        thread = threading.Thread(target=server.serve_forever, name="edge-metrics", daemon=True)
        thread.start()
        self._server, self._thread = server, thread
        log.info("edge metrics on http://%s:%s/metrics", self._host, self._port)

    def stop(self) -> None:
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
