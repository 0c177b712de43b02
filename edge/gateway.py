"""The edge gateway process: the MQTT uplink plus every device-facing server it is told to run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from pydantic import SecretStr

from device_adapters.base import StreamAdapter
from device_adapters.registry import get_adapter
from edge.availability import AvailabilitySink, AvailabilityTracker
from edge.commands import CommandRunner
from edge.http_push import HttpPushServer
from edge.limits import connection_stats
from edge.mqtt_devices import LocalMqttDevices
from edge.ocpp_server import OcppServer
from edge.outbox import Outbox
from edge.settings import EdgeSettings
from edge.stream_server import StreamServer
from edge.uplink import EventPublisher, MqttUplink
from hub.metrics.edge import EdgeCollector, EdgeMetricsServer

log = logging.getLogger(__name__)


class DeviceServer(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def _stream_server(
    name: str,
    settings: EdgeSettings,
    uplink: EventPublisher,
    port: int,
    availability: AvailabilitySink | None = None,
) -> StreamServer:
    adapter = get_adapter(name)
    if not isinstance(adapter, StreamAdapter):
        raise TypeError(f"adapter {name!r} is not a stream adapter")
    return StreamServer(adapter, settings, uplink, port=port, availability=availability)


def _plain(credentials: dict[str, SecretStr] | None) -> dict[str, str] | None:
    if credentials is None:
        return None
    return {device: secret.get_secret_value() for device, secret in credentials.items()}


def build_servers(
    settings: EdgeSettings, uplink: EventPublisher, availability: AvailabilitySink | None = None
) -> dict[str, DeviceServer]:
    """The device servers named in ``settings.edge_servers``, in that order."""
    s, up, av = settings, uplink, availability
    factories: dict[str, Callable[[], DeviceServer]] = {
        "watch": lambda: _stream_server("watch", s, up, s.watch_port, av),
        "iw": lambda: _stream_server("iw", s, up, s.iw_port, av),
        "ebike": lambda: _stream_server("ebike", s, up, s.ebike_port, av),
        "ocpp": lambda: OcppServer(s, up, availability=av),
        "http_push": lambda: HttpPushServer(
            s, up, availability=av, credentials=_plain(s.gate_credentials)
        ),
        "local_mqtt": lambda: LocalMqttDevices(s, up, availability=av),
    }
    return {name: factories[name]() for name in settings.edge_servers}


class EdgeGateway:
    def __init__(self, settings: EdgeSettings) -> None:
        settings.check_edge_credentials()
        self.settings = settings
        self.uplink = MqttUplink(settings)
        # Servers publish into the durable outbox, which forwards through the uplink:
        # a device is acknowledged once its event is on the edge's disk.
        # It forgets an event only when the hub confirms it committed it (docs/delivery.md).
        self.outbox = Outbox(settings, self.uplink, end_to_end=True)
        self.uplink.listen(self.outbox.confirm, self.outbox.hub_status)
        # Device online/offline from every server; published retained through the
        # command runner's client, which also delivers the hub's commands.
        self.availability = AvailabilityTracker(settings)
        self.servers = build_servers(settings, self.outbox, self.availability)
        self.commands = CommandRunner(settings, self.servers, availability=self.availability)
        # GET /metrics of its own (outbox backlog, uplink) when EDGE_METRICS_PORT is set.
        self.metrics = EdgeMetricsServer(
            settings,
            EdgeCollector(
                settings.gateway_id,
                lambda: self.outbox.stats,
                lambda: self.uplink.connected,
                lambda: connection_stats(self.servers),
            ),
        )
        self._started: list[DeviceServer] = []

    @property
    def watch_server(self) -> StreamServer:
        server = self.servers["watch"]
        assert isinstance(server, StreamServer)
        return server

    async def start(self) -> None:
        # The outbox file first (a bad path or a second gateway on it fails before
        # anything connects), then the uplink, which does not wait for the broker,
        # then the forwarder, then the servers that fill the outbox.
        await self.outbox.open()
        try:
            await self.uplink.start()
            await self.outbox.start()
            self.metrics.start()
            # Before the servers, so their first connections are published and held
            # commands wait for them; stopped after them (the _started order).
            for service in (self.availability, self.commands):
                await service.start()
                self._started.append(service)
            for server in self.servers.values():
                await server.start()
                self._started.append(server)
        except BaseException:
            await self.stop()
            raise
        log.info(
            "edge gateway %s up (%s), broker %s:%s",
            self.settings.gateway_id,
            ", ".join(self.servers),
            self.settings.mqtt_host,
            self.settings.mqtt_port,
        )

    async def stop(self) -> None:
        await asyncio.to_thread(self.metrics.stop)
        # Devices first, so nothing new arrives while the uplink says goodbye.
        try:
            while self._started:
                server = self._started.pop()
                try:
                    await server.stop()
                except Exception:
                    log.exception("stopping a device server failed")
        finally:
            try:
                # Forwarding stops and the file closes; what is left goes out next start.
                await self.outbox.stop()
            finally:
                await self.uplink.stop()
        log.info("edge gateway %s stopped", self.settings.gateway_id)


async def run_edge(settings: EdgeSettings) -> None:
    """Run the edge gateway until cancelled (``community-hub edge``)."""
    gateway = EdgeGateway(settings)
    await gateway.start()
    try:
        await asyncio.Event().wait()
    finally:
        # Shielded so that a second cancel does not skip the retained "offline".
        await asyncio.shield(gateway.stop())
