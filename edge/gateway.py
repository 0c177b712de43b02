"""The edge gateway process: the MQTT uplink plus the device-facing servers."""

from __future__ import annotations

import asyncio
import logging

from edge.uplink import MqttUplink
from edge.watch_server import WatchServer
from hub.settings import Settings

log = logging.getLogger(__name__)


class EdgeGateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uplink = MqttUplink(settings)
        self.watch_server = WatchServer(settings, self.uplink)

    async def start(self) -> None:
        # Uplink first, so the first frames already have somewhere to go; it
        # does not wait for the broker (paho keeps publishes until connected).
        await self.uplink.start()
        try:
            await self.watch_server.start()
        except BaseException:
            await self.uplink.stop()
            raise
        log.info(
            "edge gateway %s up: watches on %s:%s, broker %s:%s",
            self.settings.gateway_id,
            self.watch_server.host,
            self.watch_server.port,
            self.settings.mqtt_host,
            self.settings.mqtt_port,
        )

    async def stop(self) -> None:
        # Devices first, so nothing new arrives while the uplink says goodbye.
        try:
            await self.watch_server.stop()
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
