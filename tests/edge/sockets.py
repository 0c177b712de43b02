"""Helpers for tests that talk to the edge's servers over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from device_adapters import watch
from device_adapters.model import DeadLetter, DeviceEvent
from edge.settings import EdgeSettings
from edge.stream_server import StreamServer

GW = "gw-sockets-test"


class RecordingUplink:
    def __init__(self) -> None:
        self.events: list[DeviceEvent] = []
        self.dead_letters: list[DeadLetter] = []

    async def publish_event(self, event: DeviceEvent) -> None:
        self.events.append(event)

    async def publish_dead_letter(self, dl: DeadLetter) -> None:
        self.dead_letters.append(dl)


async def wait_until(predicate: Callable[[], bool], within_s: float, what: str) -> None:
    step = 0.02
    for _ in range(int(within_s / step)):
        if predicate():
            return
        await asyncio.sleep(step)
    assert predicate(), f"not within {within_s}s: {what}"


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def reply(self, end: bytes = b"]") -> bytes:
        async with asyncio.timeout(10):
            return await self.reader.readuntil(end)

    async def closed_by_server(self, within_s: float = 10.0) -> bool:
        """True once the server closed the connection (EOF or reset)."""
        try:
            async with asyncio.timeout(within_s):
                while await self.reader.read(4096):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            pass
        return True

    def close(self) -> None:
        self.writer.close()


@asynccontextmanager
async def client(port: int, source: str = "127.0.0.1") -> AsyncIterator[Client]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    c = Client(reader, writer)
    try:
        yield c
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


@asynccontextmanager
async def running(uplink: RecordingUplink, **settings: object) -> AsyncIterator[StreamServer]:
    """A watch StreamServer on a free port of 127.0.0.1, with these settings."""
    values: dict[str, object] = {"gateway_id": GW}
    values.update(settings)
    server = StreamServer(
        watch.ADAPTER,
        EdgeSettings(**values),  # type: ignore[arg-type]
        uplink,
        host="127.0.0.1",
        port=0,
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
