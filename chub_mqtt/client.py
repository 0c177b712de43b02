"""An asyncio MQTT client on paho-mqtt, shaped like aiomqtt; the only wrapper of paho here.

``async with Client(connection, ...) as client`` starts connecting (or ``start()`` /
``stop()``); ``async for message in client.messages`` reads. What it keeps:

- **Reconnects by itself**, with paho's backoff, and resubscribes on every
  connection: with ``persistent=True`` the broker keeps the session (MQTT 5: clean
  start off, a session that never expires; 3.1.1: clean session off) and holds
  what arrives while the process is away.
- **Manual acknowledgement** (``manual_ack=True``): a QoS 1 message is PUBACKed only
  when the caller calls :meth:`Client.ack`. An acknowledgement for a message of an
  earlier connection is not sent (the packet id may name another message on the
  new one); the broker redelivers the message instead.
- **Flow control**: with ``inbox_limit`` set, or between :meth:`pause_reading` and
  :meth:`resume_reading`, paho's network thread stops reading the socket after
  the message in hand, so TCP pushes back and the backlog stays in the broker.
  The wait is bounded so keepalive pings still go out. With MQTT 5,
  ``receive_maximum`` also asks the broker to send no more unacknowledged
  messages than that.
- **One MQTT 5 -> 3.1.1 fallback**: the first connection falls back when the
  CONNACK refuses the protocol, or when no CONNACK comes within
  ``CONNACK_WAIT_S`` of the TCP connection (amqtt, the demo's broker, drops an
  MQTT 5 CONNECT that carries a will). What waits for a PUBACK then fails with
  :class:`MqttError`: nothing went out on the refused connection.
- **Publish and await the PUBACK** (:meth:`publish`), or take the future of the
  PUBACK and wait elsewhere (:meth:`publish_nowait`); the future settles when
  the broker acknowledges, whoever still waits for it.

Why paho's own network thread and not the event loop's selector: the hub's
receiver parses thousands of messages a second, and paho's reads in the loop's
thread would take that time from everything else on the loop. The thread hands
messages over through one deque under a lock and wakes the loop at most once per
drain, which keeps the per-message cost of crossing threads small.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from chub_mqtt.connection import MqttConnection
from chub_mqtt.session import connect_options, paho_client, refused_for_protocol

log = logging.getLogger(__name__)

# A broker that has not answered an MQTT 5 CONNECT this long after accepting the
# TCP connection is taken not to speak MQTT 5 (Mosquitto answers in milliseconds).
CONNACK_WAIT_S: Final = 3.0
# MQTT 5 PUBACK reason code: accepted, but no subscription matched, so the broker
# dropped the message (a success code, below 0x80).
NO_MATCHING_SUBSCRIBERS: Final = 0x10
# Messages one turn of ``messages`` takes from the inbox at a time.
_ITER_CHUNK: Final = 64
_HOLD_STEP_S: Final = 0.5


class MqttError(Exception):
    """A publish could not be handed to the broker, or the client stopped first."""


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool  # the broker delivers it again
    mid: int
    # Which connection of this client delivered it (1 for the first): a packet id
    # means nothing on another one.
    connection: int


@dataclass(frozen=True, slots=True)
class PubAck:
    """The broker's acknowledgement of a publish (3.1.1: always success)."""

    reason_code: int
    reason: str

    @property
    def is_failure(self) -> bool:
        return self.reason_code >= 0x80

    @property
    def no_matching_subscribers(self) -> bool:
        return self.reason_code == NO_MATCHING_SUBSCRIBERS


@dataclass(frozen=True, slots=True)
class Will:
    """A last will, or with ``birth=`` what the client publishes on every connection."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


_SUCCESS = PubAck(0, "Success")


class Client:
    def __init__(
        self,
        connection: MqttConnection,
        *,
        persistent: bool = False,
        manual_ack: bool = False,
        subscriptions: Sequence[tuple[str, int]] = (),
        unsubscribe: Sequence[str] = (),
        will: Will | None = None,
        birth: Will | None = None,
        receive_maximum: int | None = None,
        inbox_limit: int | None = None,
        max_inflight: int | None = None,
        max_queued: int | None = None,
        on_connection: Callable[[bool], None] | None = None,
        name: str = "MQTT client",
    ) -> None:
        """``subscriptions`` are made, and ``unsubscribe`` filters dropped, on every
        connection; ``birth`` is published on every connection (untracked).
        ``on_connection(up)`` is called in the event loop when the client is ready
        (connected and subscribed) and when it loses the connection. ``name`` is for
        the log."""
        self.connection = connection
        self.name = name
        self._persistent = persistent
        self._manual_ack = manual_ack
        self._subscriptions = list(subscriptions)
        self._unsubscribe = list(unsubscribe)
        self._will = will
        self._birth = birth
        self._receive_maximum = receive_maximum
        self._inbox_limit = inbox_limit
        self._max_inflight = max_inflight
        self._max_queued = max_queued
        self._on_connection = on_connection
        self._protocol = mqtt.MQTTv5 if connection.protocol == "5" else mqtt.MQTTv311
        self._paho: mqtt.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Shared with paho's network thread, under _lock.
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._inbox: deque[Message] = deque()
        self._wake_pending = False
        self._paused = False
        self._waiters: dict[int, asyncio.Future[PubAck]] = {}
        self._acked_early: dict[int, PubAck] = {}
        self._ignored: set[int] = set()
        self._stopping = False
        # Written on the network thread only (an int is read atomically).
        self._connection = 0
        self._socket_opens = 0
        self._subscribe_mid: int | None = None
        # On the loop.
        self._wakeup = asyncio.Event()
        self._ready = asyncio.Event()
        self._retired: set[asyncio.Task[None]] = set()
        self.received = 0
        self.reading_paused = 0  # times the network thread stopped reading
        self.stale_acks_skipped = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start connecting in the background; succeeds even while the broker is down."""
        if self._paho is not None:
            raise RuntimeError(f"{self.name} already started")
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._wakeup = asyncio.Event()
        self._ready = asyncio.Event()
        self._start_paho()

    def _start_paho(self) -> None:
        c = self.connection
        client = paho_client(
            c, self._protocol, persistent=self._persistent, manual_ack=self._manual_ack
        )
        if self._will is not None:
            w = self._will
            client.will_set(w.topic, w.payload, qos=w.qos, retain=w.retain)
        if self._max_inflight is not None:
            client.max_inflight_messages_set(self._max_inflight)
        if self._max_queued is not None:
            client.max_queued_messages_set(self._max_queued)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        if self._protocol == mqtt.MQTTv5:
            client.on_socket_open = self._on_socket_open
        self._paho = client
        self._socket_opens = 0
        # connect_async + loop_start: paho's thread retries the first connection too.
        client.connect_async(
            c.host,
            c.port,
            keepalive=c.keepalive_s,
            **connect_options(self._protocol, self._receive_maximum, persistent=self._persistent),
        )
        client.loop_start()

    async def stop(self) -> None:
        """Disconnect and stop paho's thread. Unacknowledged messages stay with the
        broker; what waits for a PUBACK fails with :class:`MqttError`."""
        client = self._paho
        if client is None:
            return
        with self._room:
            self._stopping = True
            self._room.notify_all()  # a network thread holding its reading must see it
        self._wakeup.set()  # readers of ``messages`` end
        # A clean DISCONNECT: the broker does not publish the will.
        client.disconnect()
        await asyncio.to_thread(client.loop_stop)
        if self._retired:
            await asyncio.gather(*self._retired, return_exceptions=True)
        self._paho = None
        self._set_ready(False)
        self._fail_waiters(f"{self.name} stopped")

    async def wait_connected(self) -> None:
        """Wait until connected and subscribed (wrap in ``asyncio.timeout``)."""
        await self._ready.wait()

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    @property
    def connects(self) -> int:
        """Connections the broker accepted so far; a message's ``connection`` is one."""
        return self._connection

    @property
    def protocol(self) -> str:
        """The MQTT version spoken: "5", or "3.1.1" if asked for or fallen back to."""
        return "5" if self._protocol == mqtt.MQTTv5 else "3.1.1"

    def socket(self) -> socket.socket | None:
        """The connection's socket (for tests that cut it)."""
        sock = self._paho.socket() if self._paho is not None else None
        return sock if isinstance(sock, socket.socket) else None

    # -- reading -----------------------------------------------------------------------

    @property
    def messages(self) -> AsyncIterator[Message]:
        """Messages as they arrive, until :meth:`stop`."""
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while True:
            await self._wakeup.wait()
            if self._stopping:
                return
            for message in self.take(_ITER_CHUNK):
                yield message

    def pending(self) -> int:
        with self._lock:
            return len(self._inbox)

    def take(self, limit: int) -> list[Message]:
        """Up to ``limit`` messages waiting, oldest first; does not wait."""
        with self._lock:
            inbox = self._inbox
            taken = [inbox.popleft() for _ in range(min(limit, len(inbox)))]
            self._room.notify_all()
            if not inbox:
                self._wake_pending = False
                self._wakeup.clear()
            return taken

    async def wait_message(self) -> None:
        """Return once a message waits (at once if one does)."""
        await self._wakeup.wait()

    def pause_reading(self) -> None:
        """Stop reading the socket after the message in hand, until :meth:`resume_reading`."""
        with self._room:
            self._paused = True

    def resume_reading(self) -> None:
        with self._room:
            self._paused = False
            self._room.notify_all()

    def ack(self, message: Message) -> bool:
        """PUBACK a message (``manual_ack``); False if it came on an earlier connection."""
        return self.ack_packet(message.connection, message.mid, message.qos)

    def ack_packet(self, connection: int, mid: int, qos: int) -> bool:
        """:meth:`ack` by the message's connection, packet id and QoS."""
        client = self._paho
        if qos == 0:
            return True
        if client is None or connection != self._connection:
            self.stale_acks_skipped += 1
            return False
        client.ack(mid, qos)
        return True

    # -- publishing --------------------------------------------------------------------

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> PubAck:
        """Publish and wait for the broker's PUBACK (wrap in ``asyncio.timeout``).

        While the client is disconnected paho keeps the message and sends it after
        reconnecting; the wait just lasts longer."""
        return await asyncio.shield(self.publish_nowait(topic, payload, qos=qos, retain=retain))

    def publish_nowait(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> asyncio.Future[PubAck]:
        """Hand a message to paho; the future settles with its PUBACK (QoS 0: at once)."""
        client, loop = self._paho, self._loop
        if client is None or loop is None:
            raise MqttError(f"{self.name} not started")
        fut: asyncio.Future[PubAck] = loop.create_future()
        # A caller may drop the future (a confirmation nobody waits for): its failure
        # at stop is then no "exception never retrieved" in the log.
        fut.add_done_callback(_retrieve)
        info = client.publish(topic, payload, qos=qos, retain=retain)
        # NO_CONN: paho queued the message and sends it after reconnecting.
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            fut.set_exception(
                MqttError(f"publish to {topic} refused: {mqtt.error_string(info.rc)}")
            )
            return fut
        if qos == 0:
            fut.set_result(_SUCCESS)
            return fut
        with self._lock:
            # paho sends from its network thread, so the PUBACK can beat us here.
            early = self._acked_early.pop(info.mid, None)
            if early is None:
                self._waiters[info.mid] = fut
        if early is not None:
            fut.set_result(early)
        return fut

    def in_flight(self) -> int:
        """Publishes waiting for their PUBACK."""
        with self._lock:
            return len(self._waiters)

    def _fail_waiters(self, why: str) -> None:
        with self._lock:
            waiters = list(self._waiters.values())
            self._waiters.clear()
            self._acked_early.clear()
            self._ignored.clear()
        for fut in waiters:
            if not fut.done():
                fut.set_exception(MqttError(why))

    # -- the MQTT 5 -> 3.1.1 fallback (event loop) -----------------------------------------

    def _check_connack(self, client: mqtt.Client, attempt: int) -> None:
        if self._paho is client and self._connection == 0 and self._socket_opens == attempt:
            self._fall_back_to_mqtt311(client)

    def _fall_back_to_mqtt311(self, refused: mqtt.Client) -> None:
        if self._paho is not refused or self._protocol != mqtt.MQTTv5 or self._stopping:
            return
        self._protocol = mqtt.MQTTv311  # once: a 3.1.1 client never falls back
        log.warning("%s: the broker does not speak MQTT 5; using 3.1.1", self.name)
        # The old client must not report into this client's state any more.
        refused.on_connect = refused.on_disconnect = refused.on_message = None
        refused.on_publish = refused.on_subscribe = refused.on_socket_open = None
        # Nothing went out on the refused connection: what waits for a PUBACK fails
        # (its sender sends it again) and nothing was read.
        self._fail_waiters("the broker refused MQTT 5; send again over 3.1.1")
        self._start_paho()
        task = asyncio.ensure_future(asyncio.to_thread(_shut_down, refused))
        self._retired.add(task)
        task.add_done_callback(self._retired.discard)

    # -- paho callbacks (network thread) ---------------------------------------------------

    def _call_soon(self, callback: Callable[..., object], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        # A closed loop raises RuntimeError: the broker redelivers what was not acknowledged.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(callback, *args)

    def _on_socket_open(self, client: mqtt.Client, _u: Any, _sock: Any) -> None:
        # Only on an MQTT 5 client: a CONNECT follows, watch for its CONNACK.
        if self._connection > 0 or self._loop is None:
            return
        self._socket_opens += 1
        attempt = self._socket_opens
        self._call_soon(self._loop.call_later, CONNACK_WAIT_S, self._check_connack, client, attempt)

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if refused_for_protocol(client, reason):
            self._call_soon(self._fall_back_to_mqtt311, client)
            return
        if reason.is_failure:
            log.error("%s: the broker refused the connection: %s", self.name, reason)
            return
        # Before anything of this connection arrives (paho calls back on one thread).
        self._connection += 1
        sock = client.socket()
        if isinstance(sock, socket.socket):
            # paho leaves Nagle on; small publishes and acks would wait tens of ms.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Again on every connection: harmless with a resumed session, needed with a new one.
        if self._subscriptions:
            _, self._subscribe_mid = client.subscribe(self._subscriptions)
        for old in self._unsubscribe:
            client.unsubscribe(old)
        if self._birth is not None:
            b = self._birth
            info = client.publish(b.topic, b.payload, qos=b.qos, retain=b.retain)
            if b.qos > 0 and info.rc in (
                MQTTErrorCode.MQTT_ERR_SUCCESS,
                MQTTErrorCode.MQTT_ERR_NO_CONN,
            ):
                # Its PUBACK is handled on this thread, so not before this.
                with self._lock:
                    self._ignored.add(info.mid)
        log.info(
            "%s connected to %s:%s (MQTT %s, session resumed: %s)",
            self.name,
            self.connection.host,
            self.connection.port,
            self.protocol,
            bool(flags.session_present),
        )
        if not self._subscriptions:
            self._call_soon(self._set_ready, True)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, mid: int, reasons: Any, _p: Any) -> None:
        if mid != self._subscribe_mid:
            return
        refused = [r for r in reasons if r.is_failure]
        if refused:
            log.error("%s: the broker refused subscriptions: %s", self.name, refused)
        self._call_soon(self._set_ready, True)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not self._stopping:
            log.warning("%s lost the broker (%s); reconnecting with backoff", self.name, reason)
        self._call_soon(self._set_ready, False)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        message = Message(
            msg.topic,
            bytes(msg.payload),
            msg.qos,
            bool(msg.retain),
            bool(msg.dup),
            msg.mid,
            self._connection,
        )
        limit = self._inbox_limit
        with self._lock:
            self.received += 1
            self._inbox.append(message)
            wake = not self._wake_pending
            self._wake_pending = True
            hold = self._paused or (limit is not None and len(self._inbox) >= limit)
        if wake:
            self._call_soon(self._wakeup.set)
        if hold:
            self._hold_reading()

    def _hold_reading(self) -> None:
        """Keep the network thread from reading until there is room or reading resumes.

        Bounded by half the keepalive, so pings still go out while a consumer stalls;
        acknowledgements queued meanwhile go out once it reads again."""
        limit = self._inbox_limit
        with self._room:
            self.reading_paused += 1
            waited = 0.0
            while (
                (self._paused or (limit is not None and len(self._inbox) >= limit))
                and not self._stopping
                and waited < self.connection.keepalive_s / 2
            ):
                self._room.wait(_HOLD_STEP_S)
                waited += _HOLD_STEP_S

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        # Called with paho's message mutex held: only touch our own state here.
        ack = PubAck(int(reason.value), str(reason)) if reason is not None else _SUCCESS
        with self._lock:
            if mid in self._ignored:
                self._ignored.discard(mid)
                return
            fut = self._waiters.pop(mid, None)
            if fut is None:
                self._acked_early[mid] = ack
                return
        self._call_soon(_settle, fut, ack)

    # -- event loop ------------------------------------------------------------------------

    def _set_ready(self, up: bool) -> None:
        if up == self._ready.is_set():
            return
        if up:
            self._ready.set()
        else:
            self._ready.clear()
        if self._on_connection is not None:
            self._on_connection(up)


def _settle(fut: asyncio.Future[PubAck], ack: PubAck) -> None:
    if not fut.done():
        fut.set_result(ack)


def _retrieve(fut: asyncio.Future[PubAck]) -> None:
    if not fut.cancelled():
        fut.exception()


def _shut_down(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()
