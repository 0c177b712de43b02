"""Who gets a device's commands when two TCP connections claim it (docs/adapters.md).

A newer connection from the same address replaces the old one (a device that
reconnected before its old socket timed out). A claim from another address while
the established connection is alive is flagged (a dead letter naming both
addresses) and does not take the device's commands or answers; its frames are
still published and answered, so a genuine device behind a changed NAT address
loses no alarm. Once the established connection is gone, the claimant takes over.

Real TCP sockets; the second address is 127.0.0.2 (loopback on Linux).
"""

from __future__ import annotations

import asyncio
import contextlib

from device_adapters import watch
from device_adapters.model import DeadLetter, DeviceEvent
from tests.edge.sockets import Client, RecordingUplink, client, running, wait_until
from tests.edge.test_stream_limits import SOS

GW = "gw-identity-test"
DEVICE = "watch:8800000001"
LK = watch.encode_frame("3G", "8800000001", "LK,0,10,100")
LK_REPLY = b"[3G*8800000001*0002*LK]"
COMMAND = b"[3G*8800000001*0004*FIND]"


async def nothing_within(c: Client, seconds: float) -> bool:
    """True if nothing arrives (and the connection stays open) for ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            await c.reader.read(1024)
    except TimeoutError:
        return True
    return False  # something arrived, or the connection closed


async def received(c: Client, data: bytes) -> bool:
    async with asyncio.timeout(10):
        return await c.reader.readexactly(len(data)) == data


def claims(uplink: RecordingUplink) -> list[DeadLetter]:
    return [dl for dl in uplink.dead_letters if "claimed" in dl.reason]


def sos_events(uplink: RecordingUplink) -> list[DeviceEvent]:
    return [e for e in uplink.events if e.kind == "wristband.sos"]


async def test_a_claim_from_another_address_does_not_take_the_devices_commands() -> None:
    uplink = RecordingUplink()
    async with (
        running(uplink) as server,
        client(server.port) as first,
        client(server.port, "127.0.0.2") as second,
    ):
        await first.send(LK)
        assert await first.reply() == LK_REPLY

        # The claimant's alarm is published and answered: it may be the real
        # watch behind a new NAT address, and an SOS must not wait 15 minutes.
        await second.send(SOS)
        assert await second.reply() == b"[3G*8800000001*0002*AL]"
        assert len(sos_events(uplink)) == 1

        # Commands still go to the established connection only.
        assert await server.send_to(DEVICE, COMMAND)
        assert await received(first, COMMAND)
        assert await nothing_within(second, 0.5)
        first_peer = server.peer_of(DEVICE)
        assert first_peer is not None and first_peer.startswith("127.0.0.1:")

        # The claimant cannot answer a command either.
        answer = server.expect(DEVICE, lambda f: f.content_type == "LK")
        await second.send(LK)
        assert await second.reply() == LK_REPLY
        assert not answer.done()
        await first.send(LK)
        assert await first.reply() == LK_REPLY
        async with asyncio.timeout(10):
            assert (await answer).device_id == "8800000001"

        [flag] = claims(uplink)
        assert flag.device_id == DEVICE
        assert "127.0.0.2" in flag.reason and first_peer in flag.reason
        assert server.stats.contested_claims == 1

        # The established connection goes: the claimant takes over.
        first.close()
        await wait_until(lambda: server.peer_of(DEVICE) != first_peer, 10, "hand-over")
        assert server.peer_of(DEVICE) is not None
        assert "127.0.0.2" in str(server.peer_of(DEVICE))
        assert await server.send_to(DEVICE, COMMAND)
        assert await received(second, COMMAND)
        assert server.connected_devices == {DEVICE}


async def test_a_reconnect_from_the_same_address_takes_the_devices_commands() -> None:
    uplink = RecordingUplink()
    async with running(uplink) as server:
        async with client(server.port) as old, client(server.port) as new:
            await old.send(LK)
            assert await old.reply() == LK_REPLY
            await new.send(LK)
            assert await new.reply() == LK_REPLY

            assert await server.send_to(DEVICE, COMMAND)
            assert await received(new, COMMAND)
            assert await nothing_within(old, 0.5)

            # The old connection closing does not take the device offline.
            old.close()
            await wait_until(lambda: server.stats.connections_open == 1, 10, "old one closed")
            assert server.connected_devices == {DEVICE}
            assert await server.send_to(DEVICE, COMMAND)
            assert await received(new, COMMAND)
        assert not claims(uplink)
        assert server.stats.contested_claims == 0


async def test_with_no_live_connection_a_claim_from_anywhere_binds() -> None:
    uplink = RecordingUplink()
    async with running(uplink) as server:
        async with client(server.port) as first:
            await first.send(LK)
            assert await first.reply() == LK_REPLY
        await wait_until(lambda: server.connected_devices == set(), 10, "first gone")
        async with client(server.port, "127.0.0.2") as second:
            await second.send(LK)
            assert await second.reply() == LK_REPLY
            assert await server.send_to(DEVICE, COMMAND)
            assert await received(second, COMMAND)
        assert not claims(uplink)


async def test_a_half_dead_established_connection_keeps_the_device_until_it_times_out() -> None:
    uplink = RecordingUplink()
    async with running(uplink, watch_idle_timeout_s=1.0) as server:
        async with client(server.port) as first, client(server.port, "127.0.0.2") as second:
            await first.send(LK)
            assert await first.reply() == LK_REPLY
            # first now goes silent (a half-dead socket); second keeps talking.
            got = bytearray()

            async def keep_talking() -> None:
                while True:
                    await second.send(LK)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(0.2):
                            got.extend(await second.reader.read(4096))

            talker = asyncio.create_task(keep_talking())
            try:
                await wait_until(lambda: got.count(LK_REPLY) >= 2, 10, "second answered")
                await wait_until(
                    lambda: "127.0.0.2" in str(server.peer_of(DEVICE)), 20, "hand-over"
                )
                assert await server.send_to(DEVICE, COMMAND)
                await wait_until(lambda: COMMAND in got, 10, "command on the second")
            finally:
                talker.cancel()
                await asyncio.gather(talker, return_exceptions=True)
            assert await first.closed_by_server()
        assert server.stats.idle_closed >= 1
