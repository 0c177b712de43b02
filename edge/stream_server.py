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

Which connection is the device's (gets its commands, answers them, keeps it online)
when two claim the same id (docs/adapters.md, "Device identity on TCP"):

- a newer connection from the **same address** (IP) replaces the old one: a device
  that reconnected before its old socket timed out;
- a claim from **another address** while the device's connection is alive is flagged
  (a warning and a DeadLetter naming both addresses) and does not take over: commands
  and command answers stay with the established connection until it closes or times
  out (``watch_idle_timeout_s``), then the latest claimant still open takes over. The
  claimant's frames are still published and answered, because it may be the genuine
  device behind a new NAT address, and its SOS must not wait for that timeout.

Bounds (edge/limits.py): connections over ``edge_max_connections``, over
``edge_max_connections_per_address`` from one address or over
``edge_max_unidentified`` not yet identified are closed at once and counted; a
connection must send an identified frame within ``edge_unidentified_timeout_s``
(a deadline, not an idle timeout: a trickle of bytes does not extend it). Dead
letters are bounded per connection and per server; past a bound they are counted,
not stored, and an unidentified connection over its own bound is closed. Raw bytes
kept in one dead letter are cut to ``edge_dead_letter_raw_max_bytes``.

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
from edge.limits import Admission, ConnectionLimits, WindowBudget
from edge.settings import EdgeSettings
from edge.uplink import EventPublisher, UplinkError

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
    # First frames claiming a device already connected from another address.
    contested_claims: int = 0
    commands_sent: int = 0


class StreamServer:
    def __init__(
        self,
        adapter: StreamAdapter[Any],
        settings: EdgeSettings,
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
        # Connection caps, the deadline to identify, dead-letter bounds, bounded logs.
        self.limits = ConnectionLimits(settings, adapter.name, log)
        # device id -> its current connection (the one commands go to).
        self._live: dict[str, _Connection] = {}
        # device id -> connections from other addresses that claimed it while it was
        # connected, oldest first; the latest still open takes over when it goes.
        self._contenders: dict[str, list[_Connection]] = {}
        # device id -> futures waiting for one of its frames (see expect()).
        self._expected: dict[str, list[tuple[Callable[[Any], bool], asyncio.Future[Any]]]] = {}

    @property
    def connected_devices(self) -> set[str]:
        """Device ids with an open, identified connection."""
        return set(self._live)

    def last_frame(self, device_id: str) -> Any:
        """The latest frame from the device's current connection, None if it has none."""
        conn = self._live.get(device_id)
        return None if conn is None else conn.last_frame

    def peer_of(self, device_id: str) -> str | None:
        """The remote address of the device's current connection, if it has one."""
        conn = self._live.get(device_id)
        return None if conn is None else conn.peer

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
        peer = _peer_name(writer)
        admission = self.limits.admit(_peer_host(writer), peer)
        if admission is None:
            # Over a bound (counted and logged by admit): closed before reading a byte.
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        conn = _Connection(
            peer=peer,
            host=_peer_host(writer),
            protocol=self.adapter.name,
            writer=writer,
            admission=admission,
            dead_letters=self.limits.dead_letter_budget(),
        )
        self.stats.connections_total += 1
        self.stats.connections_open += 1
        log.debug("%s connection from %s", self.adapter.name, peer)
        stream = self.adapter.new_stream()
        idle = self._settings.watch_idle_timeout_s
        loop = asyncio.get_running_loop()
        identify_by = loop.time() + self.limits.unidentified_timeout_s
        reason = "closed by device"
        try:
            while conn.close_reason is None:
                identified = conn.device_id is not None
                # Until it says who it is, a connection has a deadline, not the long
                # idle timeout: garbage must not hold a place for 15 minutes.
                timeout = idle if identified else min(idle, identify_by - loop.time())
                try:
                    async with asyncio.timeout(max(timeout, 0.0)):
                        data = await reader.read(_READ_SIZE)
                except TimeoutError:
                    if identified:
                        self.stats.idle_closed += 1
                        reason = f"idle for {idle:g}s"
                    else:
                        self.limits.unidentified_timed_out(peer)
                        reason = "not identified in time"
                    break
                if not data:
                    break
                for item in stream.feed(data):
                    await self._item(conn, item, writer)
                    if conn.close_reason is not None:
                        break
            if conn.close_reason is not None:
                reason = conn.close_reason
            else:
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
            admission.release()
            if task is not None:
                self._handlers.discard(task)
            if conn.device_id is not None:
                log.info("%s from %s disconnected (%s)", conn.label, peer, reason)
            else:
                self.limits.log.info("%s from %s disconnected (%s)", conn.label, peer, reason)
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
        bound_now = False
        if conn.device_id is None:
            bound_now = await self._claim(conn, device_id, frame.raw)
        elif conn.device_id != device_id:
            # Not the device this connection is: no events, no reply (a reply would
            # tell the sender the frame was taken), only the record of it.
            self.stats.foreign_frames += 1
            self.limits.log.warning(
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
        elif device_id not in self._live:
            # The connection it deferred to (or that replaced it) has gone.
            self._bind(conn, device_id)
            bound_now = True
        if self._live.get(device_id) is conn:
            # Only the device's current connection is a sign of life and may answer
            # a command; a contested claimant's frames are published, nothing more.
            if not bound_now and self._availability is not None:
                self._availability.seen(device_id, self.adapter.family)
            conn.last_frame = frame
            self._resolve_expected(device_id, frame)
        try:
            events = self.adapter.to_events(
                frame, received_at=datetime.now(UTC), gateway_id=self.gateway_id
            )
        except Exception as exc:
            # The frame is well framed but its content is not understood: keep it,
            # and still answer so the device does not resend it forever. Anything but
            # the adapter's DecodeError is a bug in it (an installed package's, say):
            # kept the same way, rather than dropping the device's connection.
            if isinstance(exc, DecodeError):
                reason = _reason(exc)
            else:
                log.exception("%s adapter failed on a frame from %s", self.adapter.name, conn.peer)
                reason = f"adapter error: {type(exc).__name__}: {exc}"
            if not await self._dead_letter(conn, frame.raw, reason, device_id):
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

    async def _claim(self, conn: _Connection, device_id: str, raw: bytes) -> bool:
        """The connection's first identified frame names ``device_id``; True if it binds.

        See the module docstring for who wins when the device is already connected.
        """
        conn.device_id = device_id
        conn.admission.identify()
        current = self._live.get(device_id)
        if current is None or current.host == conn.host or current.closing:
            self._bind(conn, device_id)
            return True
        self.stats.contested_claims += 1
        self._contenders.setdefault(device_id, []).append(conn)
        reason = (
            f"{device_id} claimed from {conn.peer} while connected from {current.peer}; "
            f"commands stay with {current.peer} until it closes"
        )
        self.limits.log.warning("%s", reason)
        await self._dead_letter(conn, raw, reason, device_id)
        return False

    def _bind(self, conn: _Connection, device_id: str) -> None:
        log.info("%s identified on %s", device_id, conn.peer)
        self._forget_contender(conn)
        previous = self._live.get(device_id)
        if previous is not None and previous is not conn:
            # The same address reconnecting before its old connection timed out (a
            # half-dead socket): commands go to the new one, and the old one closing
            # no longer means "offline".
            log.info("%s: new connection %s replaces %s", device_id, conn.peer, previous.peer)
        self._live[device_id] = conn
        if self._availability is not None:
            self._availability.online(device_id, self.adapter.family, CONNECTED)

    def _unbind(self, conn: _Connection, reason: str) -> None:
        device_id = conn.device_id
        if device_id is None:
            return
        self._forget_contender(conn)
        if self._live.get(device_id) is not conn:
            return
        del self._live[device_id]
        for _, fut in self._expected.pop(device_id, []):
            if not fut.done():
                fut.set_exception(ConnectionResetError(f"{device_id} disconnected ({reason})"))
        successor = self._next_contender(device_id)
        if successor is not None:
            log.warning(
                "%s: %s takes over from %s, which closed (%s)",
                device_id,
                successor.peer,
                conn.peer,
                reason,
            )
            self._bind(successor, device_id)
        elif self._availability is not None:
            self._availability.offline(device_id, self.adapter.family, DISCONNECTED)

    def _next_contender(self, device_id: str) -> _Connection | None:
        """The latest claimant of ``device_id`` still open, if any."""
        waiting = self._contenders.get(device_id, [])
        while waiting:
            candidate = waiting.pop()
            if not candidate.closing:
                return candidate
        self._contenders.pop(device_id, None)
        return None

    def _forget_contender(self, conn: _Connection) -> None:
        if conn.device_id is None:
            return
        waiting = self._contenders.get(conn.device_id)
        if waiting is not None and conn in waiting:
            waiting.remove(conn)
            if not waiting:
                del self._contenders[conn.device_id]

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
        """Publish a dead letter, within the bounds; False only if the uplink did not take it.

        Past the connection's or the server's bound it is counted, not kept (True:
        handled), and an unidentified connection over its own bound is closed.
        """
        raw, reason = self.limits.bound_raw(raw, reason)
        full = self.limits.take_dead_letter(conn.dead_letters, len(raw))
        if full is not None:
            self.limits.log.info(
                "dead letter from %s not kept (%s bound reached): %s", conn.label, full, reason
            )
            if full == "connection" and conn.device_id is None:
                conn.close_reason = "too many bad frames before identifying"
            return True
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
        self.limits.log.info("dead letter from %s: %s", conn.label, reason)
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
    host: str  # the remote address without the port
    protocol: str
    admission: Admission = field(repr=False)
    dead_letters: WindowBudget = field(repr=False)
    # Set by the first identified frame; never changes afterwards. Whether commands
    # go here is StreamServer._live's business (see the module docstring).
    device_id: str | None = None
    writer: asyncio.StreamWriter | None = field(default=None, repr=False)
    # The latest frame while this is the device's connection (a command's form follows it).
    last_frame: Any = field(default=None, repr=False)
    # Set to end the connection after the frame being handled.
    close_reason: str | None = None

    @property
    def label(self) -> str:
        return self.device_id or f"unidentified {self.protocol} device ({self.peer})"

    @property
    def closing(self) -> bool:
        return self.writer is None or self.writer.is_closing()


def _peer_name(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = peer[0], peer[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peer)


def _peer_host(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer)


def _reason(exc: DecodeError) -> str:
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, str) and reason else str(exc) or type(exc).__name__
