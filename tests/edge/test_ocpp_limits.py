"""Bounded edges of the OCPP server: connection caps, the deadline for the handshake,
dead letters bounded per connection, handshake errors logged at a bounded rate.

A real OcppServer on a WebSocket, real ``websockets`` clients and raw TCP sockets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import websockets
from websockets.exceptions import InvalidMessage, InvalidStatus

from edge.ocpp_server import OcppServer
from edge.settings import EdgeSettings
from tests.edge.sockets import RecordingUplink, client, wait_until
from tests.edge.test_ocpp_server import exchange

GW = "gw-ocpp-limits"


@asynccontextmanager
async def running(uplink: RecordingUplink, **settings: object) -> AsyncIterator[OcppServer]:
    values: dict[str, object] = {"gateway_id": GW, "edge_host": "127.0.0.1"}
    values.update(settings)
    server = OcppServer(EdgeSettings(**values), uplink, host="127.0.0.1", port=0)  # type: ignore[arg-type]
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def url(server: OcppServer, cp_id: str) -> str:
    return f"ws://127.0.0.1:{server.port}/ocpp/{cp_id}"


async def refused(server: OcppServer, cp_id: str) -> None:
    """A connection attempt is refused: a 503, or a reset when the 503 was lost to it."""
    try:
        async with websockets.connect(url(server, cp_id), subprotocols=["ocpp1.6"]):
            pass
    except InvalidStatus as exc:
        assert exc.response.status_code == 503
    except (OSError, InvalidMessage):
        pass  # closed at once, before the handshake's answer was read
    else:
        raise AssertionError(f"{cp_id} was let in")


async def test_connections_over_the_per_address_cap_get_503_and_are_counted() -> None:
    uplink = RecordingUplink()
    async with (
        running(uplink, edge_max_connections_per_address=1) as server,
        websockets.connect(url(server, "CP1"), subprotocols=["ocpp1.6"]) as first,
    ):
        assert (await exchange(first, '[2,"h1","Heartbeat",{}]'))[:2] == [3, "h1"]
        await refused(server, "CP2")
        # Another address has a cap of its own.
        async with websockets.connect(
            url(server, "CP3"), subprotocols=["ocpp1.6"], local_addr=("127.0.0.2", 0)
        ) as other:
            assert (await exchange(other, '[2,"h2","Heartbeat",{}]'))[:2] == [3, "h2"]
        await wait_until(lambda: server.connected_charge_points == {"CP1"}, 10, "CP3 gone")
        assert server.limits.stats.refused_per_address == 1


async def test_unfinished_handshakes_are_capped_and_closed_after_the_deadline() -> None:
    uplink = RecordingUplink()
    async with running(uplink, edge_max_unidentified=1, edge_unidentified_timeout_s=0.5) as server:
        async with client(server.port) as silent:
            await refused(server, "CP1")
            # Well before websockets' own 10 s handshake timeout.
            assert await silent.closed_by_server(within_s=8.0)
        await wait_until(lambda: server.limits.stats.unidentified == 0, 10, "slot freed")
        async with websockets.connect(url(server, "CP1"), subprotocols=["ocpp1.6"]) as ws:
            assert (await exchange(ws, '[2,"h1","Heartbeat",{}]'))[:2] == [3, "h1"]
        assert server.limits.stats.refused_unidentified == 1
        assert server.limits.stats.unidentified_timeouts == 1


async def test_dead_letters_are_bounded_per_connection_and_their_raw_bytes_truncated() -> None:
    uplink = RecordingUplink()
    async with (
        running(
            uplink, edge_dead_letters_per_connection=3, edge_dead_letter_raw_max_bytes=256
        ) as server,
        websockets.connect(url(server, "CP1"), subprotocols=["ocpp1.6"]) as ws,
    ):
        for i in range(10):
            # Every bad message is still answered: the charger learns it was refused.
            answer = await exchange(ws, f"not json {i} " + "x" * 1000)
            assert answer[:3] == [4, "-1", "FormatViolation"]
        assert (await exchange(ws, '[2,"h1","Heartbeat",{}]'))[:2] == [3, "h1"]
    assert len(uplink.dead_letters) == 3
    for i, dl in enumerate(uplink.dead_letters):
        assert len(dl.raw) == 256
        assert dl.raw.startswith(f"not json {i} ".encode())
        assert "truncated" in dl.reason
    assert [e.kind for e in uplink.events] == ["charger.heartbeat"]
    assert server.limits.stats.dead_letters_suppressed == 7


async def test_garbage_handshakes_are_logged_at_a_bounded_rate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    uplink = RecordingUplink()
    caplog.set_level(logging.INFO)
    async with running(uplink) as server:
        for _ in range(30):
            async with client(server.port) as garbage:
                await garbage.send(b"GARBAGE\r\n\r\n")
                assert await garbage.closed_by_server()
    lines = [r for r in caplog.records if r.levelno >= logging.INFO and "ocpp" in r.name]
    lines += [r for r in caplog.records if r.name.startswith("websockets")]
    assert len(lines) <= 20, [r.getMessage() for r in lines]
    assert server.limits.stats.log_lines_suppressed > 0


async def test_stop_does_not_wait_for_a_handshake_that_never_comes() -> None:
    uplink = RecordingUplink()
    server = OcppServer(
        EdgeSettings(gateway_id=GW, edge_host="127.0.0.1", edge_unidentified_timeout_s=120),
        uplink,
        host="127.0.0.1",
        port=0,
    )
    await server.start()
    async with client(server.port) as silent:
        await wait_until(lambda: server.limits.stats.unidentified == 1, 10, "admitted")
        # Far less than the 120 s deadline: stopping closes it rather than waiting.
        async with asyncio.timeout(60):
            await server.stop()
        assert await silent.closed_by_server()
    assert server.limits.stats.open == 0
