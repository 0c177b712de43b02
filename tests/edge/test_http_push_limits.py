"""Bounded edges of the HTTP push server: connection caps, a deadline for a connection
to bring an authorized request, dead letters bounded per remote address, bad requests
logged at a bounded rate.

A real HttpPushServer (uvicorn) on a free port, driven by httpx and raw TCP sockets.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import pytest

from community_hub_tools.sim.door_gate import SimulatedGate
from edge.http_push import HttpPushServer
from edge.settings import EdgeSettings
from tests.edge.sockets import Client, RecordingUplink, client
from tests.support.brokers import free_port

GW = "gw-push-limits"
GATE = "gate-a"


@asynccontextmanager
async def running(
    uplink: RecordingUplink, credentials: dict[str, str] | None = None, **settings: object
) -> AsyncIterator[HttpPushServer]:
    values: dict[str, object] = {"gateway_id": GW, "edge_host": "127.0.0.1"}
    values.update(settings)
    server = HttpPushServer(
        EdgeSettings(**values),  # type: ignore[arg-type]
        uplink,
        host="127.0.0.1",
        port=free_port(),
        credentials=credentials,
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def base_url(server: HttpPushServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def http_client(source: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=10.0, transport=httpx.AsyncHTTPTransport(local_address=source))


def request(body: bytes, password: str | None = None) -> bytes:
    head = (
        f"POST /acs/{GATE}/events HTTP/1.1\r\nHost: edge\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    )
    if password is not None:
        token = base64.b64encode(f"{GATE}:{password}".encode()).decode()
        head += f"Authorization: Basic {token}\r\n"
    return head.encode() + b"\r\n" + body


async def status_of_response(c: Client) -> int:
    """Read one whole HTTP response from ``c``; its status code."""
    async with asyncio.timeout(10):
        head = await c.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        await c.reader.readexactly(length)
    return int(lines[0].split()[1])


async def test_connections_over_the_per_address_cap_get_503_and_are_counted() -> None:
    uplink = RecordingUplink()
    gate = SimulatedGate(GATE)
    async with (
        running(uplink, edge_max_connections_per_address=1) as server,
        client(server.port) as idle,
    ):
        await asyncio.sleep(0)  # accepted first: the listener takes connections in order
        async with http_client() as http:
            try:
                busy = await gate.push(http, base_url(server), gate.face_pass("Zhang San", "1"))
            except httpx.TransportError:
                pass  # closed at once: the 503 written first may be lost to the reset
            else:
                assert busy.status_code == 503
                assert busy.headers.get("retry-after")
        async with http_client("127.0.0.2") as http:
            ok = await gate.push(http, base_url(server), gate.face_pass("Zhang San", "1001"))
        assert ok.status_code == 200
        assert not idle.reader.at_eof()
        assert server.limits.stats.refused_per_address == 1
    assert len(uplink.events) == 1


async def test_a_connection_without_an_authorized_request_is_closed_after_the_deadline() -> None:
    uplink = RecordingUplink()
    gate = SimulatedGate(GATE)
    async with (
        running(uplink, {GATE: "s3cret"}, edge_unidentified_timeout_s=0.5) as server,
        client(server.port) as silent,
        client(server.port) as unauthorized,
        client(server.port) as device,
    ):
        await unauthorized.send(request(gate.heartbeat(), "wrong"))
        assert await status_of_response(unauthorized) == 401
        await device.send(request(gate.heartbeat(), "s3cret"))
        assert await status_of_response(device) == 200

        assert await silent.closed_by_server()
        assert await unauthorized.closed_by_server()
        # The identified connection stays for uvicorn's keep-alive and serves again.
        assert not device.reader.at_eof()
        await device.send(request(gate.heartbeat(), "s3cret"))
        assert await status_of_response(device) == 200
        assert server.limits.stats.unidentified_timeouts == 2


async def test_dead_letters_are_bounded_per_address_and_their_raw_bytes_truncated() -> None:
    uplink = RecordingUplink()
    gate = SimulatedGate(GATE)
    async with (
        running(
            uplink, edge_dead_letters_per_connection=2, edge_dead_letter_raw_max_bytes=256
        ) as server,
        http_client() as http,
    ):
        for i in range(5):
            response = await gate.push(http, base_url(server), f"not json {i} ".encode() * 100)
            # Every one is answered: the controller learns it was refused.
            assert response.status_code == 400
        assert (await gate.push(http, base_url(server), gate.heartbeat())).status_code == 200
    assert len(uplink.dead_letters) == 2
    for dl in uplink.dead_letters:
        assert len(dl.raw) == 256
        assert "truncated" in dl.reason
    assert server.limits.stats.dead_letters_suppressed == 3


class _Counting(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def counting(*loggers: str) -> Iterator[_Counting]:
    handler = _Counting()
    for name in loggers:
        logging.getLogger(name).addHandler(handler)
    try:
        yield handler
    finally:
        for name in loggers:
            logging.getLogger(name).removeHandler(handler)


async def test_bad_requests_are_logged_at_a_bounded_rate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    uplink = RecordingUplink()
    caplog.set_level(logging.INFO)
    async with running(uplink) as server:
        # uvicorn's own loggers do not propagate to the root: count on them too.
        with counting("uvicorn", "uvicorn.error") as seen:
            for _ in range(30):
                async with client(server.port) as garbage:
                    await garbage.send(b"GARBAGE\r\n\r\n")
                    assert await garbage.closed_by_server()
            await asyncio.sleep(0)
    lines = {id(r): r for r in [*seen.records, *caplog.records] if r.levelno >= logging.INFO}
    assert len(lines) <= 20, [r.getMessage() for r in lines.values()]
    assert server.limits.stats.log_lines_suppressed > 0
