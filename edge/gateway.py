"""The edge gateway process: the MQTT uplink plus every device-facing server it is told to run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from device_adapters.base import StreamAdapter
from device_adapters.registry import get_adapter
from edge.http_push import HttpPushServer
from edge.mqtt_devices import LocalMqttDevices
from edge.ocpp_server import OcppServer
from edge.stream_server import StreamServer
from edge.uplink import MqttUplink
from hub.settings import Settings

log = logging.getLogger(__name__)


class DeviceServer(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def _stream_server(name: str, settings: Settings, uplink: MqttUplink, port: int) -> StreamServer:
    adapter = get_adapter(name)
    if not isinstance(adapter, StreamAdapter):
        raise TypeError(f"adapter {name!r} is not a stream adapter")
    return StreamServer(adapter, settings, uplink, port=port)


def build_servers(settings: Settings, uplink: MqttUplink) -> dict[str, DeviceServer]:
    """The device servers named in ``settings.edge_servers``, in that order."""
    factories: dict[str, Callable[[], DeviceServer]] = {
        "watch": lambda: _stream_server("watch", settings, uplink, settings.watch_port),
        "iw": lambda: _stream_server("iw", settings, uplink, settings.iw_port),
        "ebike": lambda: _stream_server("ebike", settings, uplink, settings.ebike_port),
        "ocpp": lambda: OcppServer(settings, uplink),
        "http_push": lambda: HttpPushServer(settings, uplink),
        "local_mqtt": lambda: LocalMqttDevices(settings, uplink),
    }
    return {name: factories[name]() for name in settings.edge_servers}


class EdgeGateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uplink = MqttUplink(settings)
        self.servers = build_servers(settings, self.uplink)
        self._started: list[DeviceServer] = []

    @property
    def watch_server(self) -> StreamServer:
        server = self.servers["watch"]
        assert isinstance(server, StreamServer)
        return server

    async def start(self) -> None:
        # Uplink first, so the first frames already have somewhere to go; it
        # does not wait for the broker (paho keeps publishes until connected).
        await self.uplink.start()
        try:
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
        # Devices first, so nothing new arrives while the uplink says goodbye.
        try:
            while self._started:
                server = self._started.pop()
                try:
                    await server.stop()
                except Exception:
                    log.exception("stopping a device server failed")
        finally:
            await self.uplink.stop()
        log.info("edge gateway %s stopped", self.settings.gateway_id)


async def run_edge(settings: Settings) -> None:
    """Run the edge gateway until cancelled (``community-hub edge``)."""
    gateway = EdgeGateway(settings)
    await gateway.start()
    try:
        await asyncio.Event().wait()
    finally:
        # Shielded so that a second cancel does not skip the retained "offline".
        await asyncio.shield(gateway.stop())
