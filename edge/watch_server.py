"""The TCP server that "Watch" protocol wristbands connect to.

Per connection: bytes go through a ``WatchStream``; each frame becomes events
that are published through the uplink, and only once the broker acknowledged
them does the watch get its reply (LK, AL, ...). A watch resends an unanswered
alarm, so replying late (or not at all when the uplink times out) is safe,
while replying before the alarm is on the broker could lose it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import uuid4

from device_adapters.model import DeadLetter, Lane
from device_adapters.watch import (
    PROTOCOL,
    Rejected,
    WatchDecodeError,
    WatchFrame,
    WatchStream,
    reply_for,
    to_events,
)
from edge.uplink import EventPublisher, UplinkError
from hub.settings import Settings

log = logging.getLogger(__name__)

_READ_SIZE = 4096
_MAX_REASON = 1000  # DeadLetter.reason max_length


@dataclass
class WatchServerStats:
    """Counters since start; read by logs, the CLI and tests."""

    connections_total: int = 0
    connections_open: int = 0
    frames: int = 0
    events: int = 0
    dead_letters: int = 0
    replies: int = 0
    publish_failures: int = 0
    idle_closed: int = 0


class WatchServer:
    def __init__(
        self,
        settings: Settings,
        uplink: EventPublisher,
        *,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        self._settings = settings
        self._uplink = uplink
        self.host = settings.edge_host if host is None else host
        # Becomes the bound port after start() (useful when 0 asks for any free port).
        self.port = settings.watch_port if port is None else port
        self.gateway_id = settings.gateway_id
        self.stats = WatchServerStats()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("watch server already started")
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        sockets = self._server.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("watch server listening on %s:%s", self.host, self.port)

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
        log.info("watch server on port %s stopped", self.port)

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
        conn = _Connection(peer=peer)
        self.stats.connections_total += 1
        self.stats.connections_open += 1
        log.info("watch connection from %s", peer)
        stream = WatchStream()
        idle = self._settings.watch_idle_timeout_s
        reason = "closed by watch"
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
            log.info("watch %s from %s disconnected (%s)", conn.label, peer, reason)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _item(
        self, conn: _Connection, item: WatchFrame | Rejected, writer: asyncio.StreamWriter | None
    ) -> None:
        if isinstance(item, Rejected):
            await self._dead_letter(conn, item.raw, item.reason, conn.device_id)
        else:
            await self._frame(conn, item, writer)

    async def _frame(
        self, conn: _Connection, frame: WatchFrame, writer: asyncio.StreamWriter | None
    ) -> None:
        self.stats.frames += 1
        if conn.device_id != frame.device_id:
            if conn.device_id is None:
                log.info("watch %s identified on %s", frame.device_id, conn.peer)
            else:
                log.warning(
                    "watch on %s changed id from %s to %s",
                    conn.peer,
                    conn.device_id,
                    frame.device_id,
                )
            conn.device_id = frame.device_id
        try:
            events = to_events(frame, received_at=datetime.now(UTC), gateway_id=self.gateway_id)
        except WatchDecodeError as exc:
            # The frame is well framed but its content is not understood: keep it,
            # and still answer so the watch does not resend it forever.
            if not await self._dead_letter(conn, frame.raw, _reason(exc), frame.device_id):
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
                # No reply, so the watch resends the frame. It is decoded anew (new
                # event ids), so a copy paho still delivers late arrives twice.
                self.stats.publish_failures += len(failed)
                log.warning(
                    "watch %s: %d of %d events of %s not published, not replying: %s",
                    frame.device_id,
                    len(failed),
                    len(events),
                    frame.content_type,
                    failed[0],
                )
                return
        reply = reply_for(frame)
        if reply is not None and writer is not None:
            writer.write(reply)
            await writer.drain()
            self.stats.replies += 1

    async def _dead_letter(
        self, conn: _Connection, raw: bytes, reason: str, native_id: str | None
    ) -> bool:
        """Publish a dead letter; False if the uplink did not take it."""
        dl = DeadLetter(
            dead_letter_id=uuid4(),
            gateway_id=self.gateway_id,
            source=f"watch-tcp {conn.peer}",
            protocol=PROTOCOL,
            device_id=f"watch:{native_id}" if native_id else None,
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
    device_id: str | None = None

    @property
    def label(self) -> str:
        return f"watch:{self.device_id}" if self.device_id else f"unidentified ({self.peer})"


def _peer_name(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = peer[0], peer[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peer)


def _reason(exc: WatchDecodeError) -> str:
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, str) and reason else str(exc) or type(exc).__name__
