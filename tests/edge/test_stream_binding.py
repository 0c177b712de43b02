"""A stream connection is bound to the device id of its first identified frame: a frame
claiming another device on it is dead-lettered, turned into no event, and not answered."""

from __future__ import annotations

import asyncio
import contextlib

from device_adapters import iw, watch
from device_adapters.model import DeadLetter, DeviceEvent
from edge.settings import EdgeSettings
from edge.stream_server import StreamServer

GW = "gw-binding-test"


class RecordingUplink:
    def __init__(self) -> None:
        self.events: list[DeviceEvent] = []
        self.dead_letters: list[DeadLetter] = []

    async def publish_event(self, event: DeviceEvent) -> None:
        self.events.append(event)

    async def publish_dead_letter(self, dl: DeadLetter) -> None:
        self.dead_letters.append(dl)


async def nothing_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            data = await reader.read(1024)
    except TimeoutError:
        return True
    return data == b""  # closed: no reply either (callers check the connection stays)


async def test_a_frame_for_another_watch_on_a_bound_connection_is_rejected() -> None:
    uplink = RecordingUplink()
    server = StreamServer(
        watch.ADAPTER, EdgeSettings(gateway_id=GW), uplink, host="127.0.0.1", port=0
    )
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(watch.encode_frame("3G", "8800000001", "LK,0,10,100"))
        await writer.drain()
        async with asyncio.timeout(5):
            assert await reader.readuntil(b"]") == b"[3G*8800000001*0002*LK]"

        foreign = watch.encode_frame("3G", "8800000002", "LK,0,10,100")
        writer.write(foreign)
        await writer.drain()
        assert await nothing_within(reader, 0.5)
        assert not reader.at_eof()  # the bound device keeps its connection

        writer.write(watch.encode_frame("3G", "8800000001", "LK,0,10,99"))
        await writer.drain()
        async with asyncio.timeout(5):
            assert await reader.readuntil(b"]") == b"[3G*8800000001*0002*LK]"
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        await server.stop()

    assert {e.device_id for e in uplink.events} == {"watch:8800000001"}
    assert len(uplink.events) == 2
    [dl] = uplink.dead_letters
    assert dl.reason == (
        "frame claims device watch:8800000002 on a connection bound to watch:8800000001"
    )
    assert dl.device_id == "watch:8800000001"
    assert dl.raw == foreign
    assert server.stats.foreign_frames == 1
    assert server.stats.replies == 2
    assert server.connected_devices == set()


async def test_a_second_iw_login_with_another_imei_is_rejected() -> None:
    uplink = RecordingUplink()
    server = StreamServer(iw.ADAPTER, EdgeSettings(gateway_id=GW), uplink, host="127.0.0.1", port=0)
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"IWAP00353456789012345#")
        await writer.drain()
        async with asyncio.timeout(5):
            login_reply = await reader.readuntil(b"#")
        assert login_reply.startswith(b"IWBP00")
        writer.write(b"IWAP00353456789099999#")
        await writer.drain()
        assert await nothing_within(reader, 0.5)
        assert not reader.at_eof()
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        await server.stop()
    assert {e.device_id for e in uplink.events} == {"iw:353456789012345"}
    [dl] = uplink.dead_letters
    assert "claims device iw:353456789099999" in dl.reason
    assert "bound to iw:353456789012345" in dl.reason
