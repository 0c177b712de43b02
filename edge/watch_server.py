"""The TCP server "Watch" protocol wristbands connect to: the stream server, watch adapter."""

from __future__ import annotations

from device_adapters.watch import ADAPTER
from edge.settings import EdgeSettings
from edge.stream_server import StreamServer, StreamServerStats
from edge.uplink import EventPublisher

WatchServerStats = StreamServerStats


class WatchServer(StreamServer):
    def __init__(
        self,
        settings: EdgeSettings,
        uplink: EventPublisher,
        *,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        super().__init__(
            ADAPTER,
            settings,
            uplink,
            host=host,
            port=settings.watch_port if port is None else port,
        )
