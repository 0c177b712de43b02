"""A TCP server for any byte-stream device protocol (watches, IW watches, e-bike piles).

Per connection: bytes go through the adapter's stream; each frame becomes
events that are published through the uplink, and only once the broker
acknowledged them does the device get its reply (LK, AL, an e-bike ack...).
Devices resend unanswered alarms, so replying late (or not at all when the
uplink times out) is safe, while replying before the alarm is on the broker
could lose it.

A connection is bound to the device id of its first identified frame. A later frame
on that connection that claims another device id is rejected: it becomes no event,
is kept as a DeadLetter ("frame claims device X on a connection bound to Y") and gets
no reply, so a device (or someone) cannot speak for another device through a
connection opened by the first; the bound device keeps its connection.

For commands down (edge/commands.py): :meth:`StreamServer.send_to` writes bytes to a
device's current connection, and :meth:`StreamServer.expect` gives a future that the
device's next frame matching a predicate resolves (its answer to a command).
Connection changes and frames are reported to an availability tracker, if given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from device_adapters.base import Rejected, StreamAdapter
from device_adapters.errors import DecodeError
from device_adapters.model import DeadLetter, Lane
from edge.availability import CONNECTED, DISCONNECTED, AvailabilitySink
from edge.uplink import EventPublisher, UplinkError
from hub.settings import Settings

log = logging.getLogger(__name__)

_READ_SIZE = 4096
_MAX_REASON = 1000  # DeadLetter.reason max_length


@dataclass
class StreamServerStats:
    """Counters since start; read by logs, the CLI and tests."""

    connections_total: int = 0
    connections_open: int = 0
    frames: int = 0
    events: int = 0
    dead_letters: int = 0
    replies: int = 0
    publish_failures: int = 0
    idle_closed: int = 0
    # Frames claiming another device than the one their connection is bound to.
    foreign_frames: int = 0
    commands_sent: int = 0


class StreamServer:
    def __init__(
        self,
        adapter: StreamAdapter[Any],
        settings: Settings,
        uplink: EventPublisher,
        *,
        port: int,
        host: str | None = None,
        availability: AvailabilitySink | None = None,
    ) -> None:
        self.adapter = adapter
        self._settings = settings
        self._uplink = uplink
        self.host = settings.edge_host if host is None else host
        # Becomes the bound port after start() (useful when 0 asks for any free port).
        self.port = port
        self.gateway_id = settings.gateway_id
        self.stats = StreamServerStats()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._availability = availability
        # device id -> its current connection (the latest that identified as it).
        self._live: dict[str, _Connection] = {}
        # device id -> futures waiting for one of its frames (see expect()).
        self._expected: dict[str, list[tuple[Callable[[Any], bool], asyncio.Future[Any]]]] = {}

    @property
    def connected_devices(self) -> set[str]:
        """Device ids with an open, identified connection."""
        return set(self._live)

    async def send_to(self, device_id: str, data: bytes) -> bool:
        """Write ``data`` to the device's current connection; False if it has none."""
        conn = self._live.get(device_id)
        if conn is None or conn.writer is None or conn.writer.is_closing():
            return False
        try:
            conn.writer.write(data)
            await conn.writer.drain()
        except (ConnectionError, OSError) as exc:
            log.info("command to %s not written: %s", device_id, exc)
            return False
        self.stats.commands_sent += 1
        return True

    def expect(self, device_id: str, predicate: Callable[[Any], bool]) -> asyncio.Future[Any]:
        """A future for the device's next frame that ``predicate`` accepts.

        Resolved with the frame (before its events are published). Fails with
        ConnectionResetError when the device's connection closes first; the caller
        bounds the wait (and cancelling the future forgets it).
        """
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        waiting = [w for w in self._expected.get(device_id, []) if not w[1].done()]
        waiting.append((predicate, fut))
        self._expected[device_id] = waiting
        return fut

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError(f"{self.adapter.name} server already started")
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        sockets = self._server.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("%s server listening on %s:%s", self.adapter.name, self.host, self.port)

    async def stop(self) -> None:
        """Stop accepting, then close every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping = True
        server.close()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()
        self._stopping = False
        log.info("%s server on port %s stopped", self.adapter.name, self.port)

    # -- one connection ----------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None:
            # Accepted just before stop() closed the listener.
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        peer = _peer_name(writer)
        conn = _Connection(peer=peer, protocol=self.adapter.name, writer=writer)
        self.stats.connections_total += 1
        self.stats.connections_open += 1
        log.info("%s connection from %s", self.adapter.name, peer)
        stream = self.adapter.new_stream()
        idle = self._settings.watch_idle_timeout_s
        reason = "closed by device"
        try:
            while True:
                try:
                    async with asyncio.timeout(idle):
                        data = await reader.read(_READ_SIZE)
                except TimeoutError:
                    self.stats.idle_closed += 1
                    reason = f"idle for {idle:g}s"
                    break
                if not data:
                    break
                for item in stream.feed(data):
                    await self._item(conn, item, writer)
            # Closed or quiet: what is still buffered is all there will be (a frame
            # whose LEN overstated its content completes only now). No reply: the
            # connection is going away.
            for item in stream.flush():
                await self._item(conn, item, None)
        except (ConnectionError, OSError) as exc:
            reason = f"connection error: {exc}"
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # Our own stop() cancelled us: end normally, because Python 3.11's
            # start_server logs a cancelled handler task as an error.
            reason = "server stopping"
        finally:
            self.stats.connections_open -= 1
            if task is not None:
                self._handlers.discard(task)
            log.info("%s from %s disconnected (%s)", conn.label, peer, reason)
            self._unbind(conn, reason)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _item(
        self, conn: _Connection, item: Any, writer: asyncio.StreamWriter | None
    ) -> None:
        if isinstance(item, Rejected):
            await self._dead_letter(conn, item.raw, item.reason, conn.device_id)
        else:
            await self._frame(conn, item, writer)

    async def _frame(
        self, conn: _Connection, frame: Any, writer: asyncio.StreamWriter | None
    ) -> None:
        self.stats.frames += 1
        device_id = self.adapter.device_id(frame)
        if conn.device_id is None:
            self._bind(conn, device_id)
        elif conn.device_id != device_id:
            # Not the device this connection is: no events, no reply (a reply would
            # tell the sender the frame was taken), only the record of it.
            self.stats.foreign_frames += 1
            log.warning(
                "%s: frame claims device %s on a connection bound to %s",
                conn.peer,
                device_id,
                conn.device_id,
            )
            await self._dead_letter(
                conn,
                frame.raw,
                f"frame claims device {device_id} on a connection bound to {conn.device_id}",
                conn.device_id,
            )
            return
        elif self._availability is not None:
            self._availability.seen(device_id, self.adapter.family)
        self._resolve_expected(device_id, frame)
        try:
            events = self.adapter.to_events(
                frame, received_at=datetime.now(UTC), gateway_id=self.gateway_id
            )
        except DecodeError as exc:
            # The frame is well framed but its content is not understood: keep it,
            # and still answer so the device does not resend it forever.
            if not await self._dead_letter(conn, frame.raw, _reason(exc), device_id):
                return
        else:
            # All of a frame's events in flight at once, alarms handed to paho first.
            events.sort(key=lambda e: e.lane is not Lane.ALARM)
            results = await asyncio.gather(
                *(self._uplink.publish_event(e) for e in events), return_exceptions=True
            )
            failed = [r for r in results if isinstance(r, BaseException)]
            self.stats.events += len(events) - len(failed)
            for err in failed:
                if not isinstance(err, UplinkError):
                    raise err
            if failed:
                # No reply, so the device resends the frame. It is decoded anew (new
                # event ids), so a copy paho still delivers late arrives twice.
                self.stats.publish_failures += len(failed)
                log.warning(
                    "%s: %d of %d events not published, not replying: %s",
                    device_id,
                    len(failed),
                    len(events),
                    failed[0],
                )
                return
        reply = self.adapter.reply_for(frame)
        if reply is not None and writer is not None:
            writer.write(reply)
            await writer.drain()
            self.stats.replies += 1

    def _bind(self, conn: _Connection, device_id: str) -> None:
        log.info("%s identified on %s", device_id, conn.peer)
        conn.device_id = device_id
        previous = self._live.get(device_id)
        if previous is not None:
            # Usually a device reconnecting before its old connection timed out; commands
            # go to the new one, and the old one closing no longer means "offline".
            log.info("%s: new connection %s replaces %s", device_id, conn.peer, previous.peer)
        self._live[device_id] = conn
        if self._availability is not None:
            self._availability.online(device_id, self.adapter.family, CONNECTED)

    def _unbind(self, conn: _Connection, reason: str) -> None:
        device_id = conn.device_id
        if device_id is None or self._live.get(device_id) is not conn:
            return
        del self._live[device_id]
        for _, fut in self._expected.pop(device_id, []):
            if not fut.done():
                fut.set_exception(ConnectionResetError(f"{device_id} disconnected ({reason})"))
        if self._availability is not None:
            self._availability.offline(device_id, self.adapter.family, DISCONNECTED)

    def _resolve_expected(self, device_id: str, frame: Any) -> None:
        waiting = self._expected.get(device_id)
        if not waiting:
            return
        keep = []
        for predicate, fut in waiting:
            if fut.done():
                continue
            try:
                matched = predicate(frame)
            except Exception as exc:
                fut.set_exception(exc)
                continue
            if matched:
                fut.set_result(frame)
            else:
                keep.append((predicate, fut))
        if keep:
            self._expected[device_id] = keep
        else:
            del self._expected[device_id]

    async def _dead_letter(
        self, conn: _Connection, raw: bytes, reason: str, device_id: str | None
    ) -> bool:
        """Publish a dead letter; False if the uplink did not take it."""
        dl = DeadLetter(
            dead_letter_id=uuid4(),
            gateway_id=self.gateway_id,
            source=f"{self.adapter.name}-tcp {conn.peer}",
            protocol=self.adapter.name,
            device_id=device_id,
            received_at=datetime.now(UTC),
            reason=reason[:_MAX_REASON],
            raw=raw,
        )
        log.info("dead letter from %s: %s", conn.label, reason)
        try:
            await self._uplink.publish_dead_letter(dl)
        except UplinkError as exc:
            self.stats.publish_failures += 1
            log.warning("dead letter from %s not published: %s", conn.label, exc)
            return False
        self.stats.dead_letters += 1
        return True


@dataclass
class _Connection:
    peer: str
    protocol: str
    # Bound by the first identified frame; never changes afterwards.
    device_id: str | None = None
    writer: asyncio.StreamWriter | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return self.device_id or f"unidentified {self.protocol} device ({self.peer})"


def _peer_name(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = peer[0], peer[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peer)


def _reason(exc: DecodeError) -> str:
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, str) and reason else str(exc) or type(exc).__name__
