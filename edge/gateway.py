"""The edge gateway process: the MQTT uplink plus every device-facing server it is told to run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Protocol

from pydantic import SecretStr

from device_adapters.base import Adapter, StreamAdapter
from device_adapters.registry import load_adapters
from edge.availability import AvailabilitySink, AvailabilityTracker
from edge.commands import CommandRunner
from edge.hosting import check_names, hosted_adapters, server_port
from edge.http_push import HttpPushServer
from edge.limits import connection_stats
from edge.metrics import EdgeCollector, EdgeMetricsServer
from edge.mqtt_devices import LocalMqttDevices
from edge.ocpp_server import OcppServer
from edge.outbox import Outbox
from edge.outbox_report import OutboxReporter
from edge.settings import EdgeSettings
from edge.stream_server import StreamServer
from edge.uplink import EventPublisher, MqttUplink

log = logging.getLogger(__name__)


class DeviceServer(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def _plain(credentials: dict[str, SecretStr] | None) -> dict[str, str] | None:
    if credentials is None:
        return None
    return {device: secret.get_secret_value() for device, secret in credentials.items()}


def build_servers(
    settings: EdgeSettings,
    uplink: EventPublisher,
    availability: AvailabilitySink | None = None,
    adapters: Mapping[str, Adapter] | None = None,
) -> dict[str, DeviceServer]:
    """The device servers named in ``settings.edge_servers``, in that order.

    Made from the installed adapters (``adapters``, by default the registry's) by
    transport (edge/hosting.py); raises HostingError before anything listens when a
    name or port does not fit them.
    """
    hosts = hosted_adapters(load_adapters() if adapters is None else adapters)
    check_names(settings, hosts)
    return {
        name: _server(name, hosts[name], settings, uplink, availability)
        for name in settings.edge_servers
    }


def _server(
    name: str,
    adapters: list[Adapter],
    settings: EdgeSettings,
    uplink: EventPublisher,
    availability: AvailabilitySink | None,
) -> DeviceServer:
    port = server_port(name, adapters, settings)
    adapter = adapters[0]
    if isinstance(adapter, StreamAdapter):
        assert port is not None  # server_port gives every listening server one
        return StreamServer(adapter, settings, uplink, port=port, availability=availability)
    if adapter.transport == "websocket":
        return OcppServer(settings, uplink, port=port, availability=availability)
    if adapter.transport == "http_push":
        credentials = _plain(settings.gate_credentials)
        return HttpPushServer(
            settings, uplink, port=port, availability=availability, credentials=credentials
        )
    return LocalMqttDevices(settings, uplink, availability=availability)


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
        # The installed adapters make the servers and say how commands reach devices.
        adapters = load_adapters()
        self.servers = build_servers(settings, self.outbox, self.availability, adapters)
        self.commands = CommandRunner(
            settings, self.servers, availability=self.availability, adapters=adapters
        )
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
        # The outbox's backlog to the hub, before the disk fills (edge/outbox_report.py).
        self.outbox_reporter = OutboxReporter(settings, lambda: self.outbox.stats, self.uplink)
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
            for service in (self.outbox_reporter, self.availability, self.commands):
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
