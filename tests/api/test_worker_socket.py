"""The API workers' shared socket: connections accepted on it send small answers at once.

Created with protocol 0, asyncio left Nagle's algorithm on for every connection, and each
small answer waited for the client's delayed ACK (a ticket page alone took 47 ms in a
worker, 3 ms in the hub process).
"""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from api.workers import bind_public
from hub.netutil import PortInUseError
from tests.support.brokers import free_port


async def test_connections_on_the_shared_socket_have_nagle_off() -> None:
    public = bind_public("127.0.0.1", free_port())
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def accepted(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection: socket.socket = writer.get_extra_info("socket")
        seen.set_result(connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(accepted, sock=public)
    try:
        host, port = public.getsockname()[:2]
        _reader, writer = await asyncio.open_connection(host, port)
        assert await asyncio.wait_for(seen, 10) == 1
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


def _held(port: int) -> socket.socket:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", port))
    holder.listen(1)
    return holder


def test_a_port_freed_while_the_hub_waits_is_taken() -> None:
    """A hub restarted after a kill -9 waits for the dead hub's workers to let go."""
    port = free_port()
    holder = _held(port)
    threading.Timer(1.0, holder.close).start()
    public = bind_public("127.0.0.1", port, wait_s=30)
    try:
        assert public.getsockname()[1] == port
    finally:
        public.close()


def test_a_port_still_held_after_the_wait_is_refused_by_name() -> None:
    port = free_port()
    holder = _held(port)
    try:
        with pytest.raises(PortInUseError, match=str(port)):
            bind_public("127.0.0.1", port, wait_s=1)
    finally:
        holder.close()
