"""The hub's MQTT consumer on paho-mqtt, bridged to asyncio.

Guarantees it gives the ingest worker:
- QoS 1 with persistent sessions (clean_session=False, fixed client ids): what
  arrives while the hub is down waits in the broker.
- Manual acknowledgement: a message is PUBACKed only when the worker calls
  ``ack`` after the transaction holding it committed. Until then the broker
  keeps it and redelivers it after a reconnect.
- Alarms never wait behind telemetry: the alarm lane has a connection (and
  session) of its own, ``{hub_client_id}-alarms``, read by its own network
  thread, and alarms are handed out before anything else. On one shared
  connection an SOS arrived behind every telemetry message the broker had
  already queued for the hub (the SOS latency benchmark measured ~0.5 s at
  5,000 events/s). Commands to devices leave on that connection too.
- Several hubs (``shared_group`` set): the main connection subscribes to
  telemetry, dead letters and command results as MQTT shared subscriptions,
  so each of those goes to one hub of the group; alarms, device availability
  and gateway status stay plain (see ``subscriptions``): every hub gets every
  alarm (a dead hub's share never waits for it to restart) and the event-id
  lock lets one of them store it and raise its alert. Each hub keeps
  its own persistent sessions under its own client id (docs/scale-out.md).
- Bounded memory: when ``inbox_limit`` messages of the main connection wait
  for the worker, its network thread stops reading the socket until the worker
  has taken some; TCP pushes back and the rest waits in the broker. (Mosquitto
  2.0 does not keep to ``max_inflight_messages`` once acknowledgements flow, so
  the in-flight window alone did not bound the inbox.)

- MQTT 5, falling back to 3.1.1 per connection when the broker refuses it
  (the demo's embedded amqtt broker): shared subscriptions as MQTT 5 defines
  them, and Receive Maximum on the main connection, so the broker itself sends
  no more unacknowledged messages than the inbox holds. Sessions never expire,
  like the 3.1.1 persistent sessions they replace.

paho runs each connection's network loop in its own thread; callbacks append
to two deques under a lock and wake the asyncio side at most once per drain,
which keeps the per-message cost of crossing threads small.

- The main connection in a process of its own (``mqtt_receiver_process``, the
  default): paho's Python parsing of every message no longer competes with the
  ingest worker for the hub's GIL. Its messages arrive through a pipe into the
  same deque, and their acknowledgements go back the same way
  (hub/bridge/receiver.py). The alarm connection stays here: an SOS takes no
  extra hop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import orjson
import paho.mqtt.client as mqtt

from device_adapters.model import Lane
from hub.bridge.paho_client import connect_options, persistent_consumer, refused_for_protocol
from hub.bridge.topics import (
    ALARMS_SUBSCRIPTION,
    AVAILABILITY_SUBSCRIPTION,
    COMMAND_RESULTS_SUBSCRIPTION,
    DEAD_LETTERS_SUBSCRIPTION,
    EVENTS_SUBSCRIPTION,
    GATEWAY_STATUS_SUBSCRIPTION,
    TELEMETRY_SUBSCRIPTION,
    alarm_client_id,
    committed_topic,
    hub_status_topic,
    lane_of_topic,
)
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.bridge.receiver import ReceiverProcess, ReceiverState, Wire

log = logging.getLogger(__name__)

Session = Literal["main", "alarms"]
# A receiver process's connection numbers are its own: the hub adds the
# process's generation above them, so an id from a replaced process never
# matches the current one (see ``ack``).
_GENERATION_SHIFT = 32

# Ids per confirmation message (about 40 bytes each).
_CONFIRM_CHUNK = 1000

# How long an MQTT 5 connection may wait for its first CONNACK before the hub
# takes the broker for one that speaks only 3.1.1.
_CONNACK_WAIT_S = 3.0

# What each connection reads. The main session of a hub from before the alarm
# connection existed was subscribed to every lane; it unsubscribes from that.
_SUBSCRIPTIONS: dict[Session, list[tuple[str, int]]] = {
    "alarms": [(ALARMS_SUBSCRIPTION, 1)],
    "main": [
        (TELEMETRY_SUBSCRIPTION, 1),
        (DEAD_LETTERS_SUBSCRIPTION, 1),
        (AVAILABILITY_SUBSCRIPTION, 1),
        (GATEWAY_STATUS_SUBSCRIPTION, 1),
        (COMMAND_RESULTS_SUBSCRIPTION, 1),
    ],
}
_OUTGROWN: dict[Session, list[str]] = {"alarms": [], "main": [EVENTS_SUBSCRIPTION]}


def _shared(shared_group: str, topic: str) -> str:
    return f"$share/{shared_group}/{topic}"


# With a group, what the hubs share out; the rest every hub reads in full.
_SHARED_IN_GROUP = frozenset(
    {TELEMETRY_SUBSCRIPTION, DEAD_LETTERS_SUBSCRIPTION, COMMAND_RESULTS_SUBSCRIPTION}
)


def subscriptions(session: Session, shared_group: str | None) -> list[tuple[str, int]]:
    """What one connection subscribes to; with a group, the bulk as shared subscriptions.

    With ``$share/<group>/<filter>`` the broker hands each message to one hub of
    the group, round robin, instead of to every hub (docs/scale-out.md): telemetry,
    dead letters and command results. Every hub reads the rest in full:
    - alarms: a shared alarm queued for a hub that died would wait for that hub
      to restart; the event-id lock keeps each to one alert;
    - device availability and gateway status: retained state, which a broker
      does not send to a shared subscription when it is made (MQTT 5, 4.8.2), so
      a new group would never learn it; and each hub applying every report in
      order leaves the latest one standing, where a round robin could let an
      older report, handled late by another hub, overwrite a newer one.
    """
    return [
        (_shared(shared_group, topic) if shared_group and topic in _SHARED_IN_GROUP else topic, q)
        for topic, q in _SUBSCRIPTIONS[session]
    ]


def outgrown(session: Session, shared_group: str | None) -> list[str]:
    """Filters a persistent session may still hold from an earlier configuration.

    A hub that joins a group drops the plain form of what it now shares, or it
    would get those messages twice: once for itself and once as its share of
    the group; and the shared form of what it now reads in full (alarms and
    retained state were shared once), for the same reason.
    """
    if shared_group is None:
        return _OUTGROWN[session]
    return _OUTGROWN[session] + [
        topic if topic in _SHARED_IN_GROUP else _shared(shared_group, topic)
        for topic, _ in _SUBSCRIPTIONS[session]
    ]


@dataclass(frozen=True)
class Incoming:
    mid: int
    qos: int
    topic: str
    payload: bytes
    lane: Lane | None
    redelivered: bool
    connection: int  # which connection delivered it: a packet id means nothing on another
    session: Session = "main"


class MqttBridge:
    def __init__(
        self,
        settings: Settings,
        inbox_limit: int | None = None,
        *,
        sessions: tuple[Session, ...] | None = None,
        on_state: Callable[[MqttBridge], None] | None = None,
    ) -> None:
        """``sessions``: the connections this bridge runs itself (default: both, or only the
        alarms with ``mqtt_receiver_process``, the main one then running in a child
        process). ``on_state`` is called from a network thread after a connection
        comes up or goes down (the receiver process reports it to the hub)."""
        self._settings = settings
        self._lock = threading.Lock()
        self._alarms: deque[Incoming] = deque()
        self._others: deque[Incoming] = deque()
        # Room for two full batches: one being stored, the next one filling.
        self._inbox_limit = inbox_limit or 2 * max(settings.ingest_batch_size, 1)
        self._room = threading.Condition(self._lock)
        self._wake_pending = False
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected: dict[Session, threading.Event] = {
            "main": threading.Event(),
            "alarms": threading.Event(),
        }
        self._connects: dict[Session, int] = {"main": 0, "alarms": 0}
        first = mqtt.MQTTv5 if settings.mqtt_protocol == "5" else mqtt.MQTTv311
        self._protocol: dict[Session, int] = {"main": first, "alarms": first}
        self._fallbacks: set[asyncio.Future[None]] = set()
        self._stopping = False
        self._on_state = on_state
        local: tuple[Session, ...] = sessions or (
            ("alarms",) if settings.mqtt_receiver_process else ("alarms", "main")
        )
        self._clients: dict[Session, mqtt.Client] = {s: self._make_client(s) for s in local}
        self._receiver: ReceiverProcess | None = None
        if local == ("alarms",):
            from hub.bridge.receiver import ReceiverProcess

            self._receiver = ReceiverProcess(
                settings, self._inbox_limit, self._from_receiver, self._receiver_state
            )
        self._remote: ReceiverState | None = None  # the receiver's last report
        self._remote_connects_before = 0  # connects of the receiver processes before this one
        # By connection: the alarm lane and the rest (telemetry, state, results).
        self.received_on: dict[Session, int] = {"main": 0, "alarms": 0}
        self._stale_acks_skipped = 0
        self._reading_paused = 0  # times the main connection stopped reading (inbox full)

    def _make_client(self, session: Session) -> mqtt.Client:
        s = self._settings
        protocol = self._protocol[session]
        if session == "alarms":
            client = persistent_consumer(alarm_client_id(s.hub_client_id), s, protocol)
        else:
            client = persistent_consumer(s.hub_client_id, s, protocol)
            client.will_set(hub_status_topic(s.hub_client_id), b"offline", qos=1, retain=True)

        def on_connect(c: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
            self._on_connect(session, c, flags, reason)

        def on_disconnect(_c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            self._on_disconnect(session, reason)

        def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
            self._on_message(session, msg)

        def on_socket_open(c: mqtt.Client, _u: Any, _sock: Any) -> None:
            # A CONNECT follows: an older broker may drop it without a CONNACK
            # (amqtt does) instead of refusing the version, so watch for one.
            if self._loop is not None and self._connects[session] == 0:
                self._loop.call_soon_threadsafe(
                    self._loop.call_later, _CONNACK_WAIT_S, self._check_connack, session, c
                )

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        if protocol == mqtt.MQTTv5:
            client.on_socket_open = on_socket_open
        return client

    def _check_connack(self, session: Session, client: mqtt.Client) -> None:
        """On the event loop, a while after a TCP connection of an MQTT 5 client."""
        if self._connects[session] == 0 and self._clients.get(session) is client:
            task = asyncio.ensure_future(self._fall_back_to_mqtt311(session, client))
            self._fallbacks.add(task)
            task.add_done_callback(self._fallbacks.discard)

    def _client_of(self, session: Session) -> mqtt.Client:
        return self._clients[session]

    @property
    def received(self) -> int:
        """Messages received on both connections."""
        return sum(self.received_on.values())

    @property
    def connected(self) -> bool:
        return all(event.is_set() for event in self._connected.values())

    @property
    def connects(self) -> int:
        """How often both connections have been up: the fewer of their connect counts."""
        return min(self._connects.values())

    @property
    def reading_paused(self) -> int:
        """Times the main connection stopped reading because the inbox was full."""
        return self._reading_paused + (self._remote.reading_paused if self._remote else 0)

    @property
    def stale_acks_skipped(self) -> int:
        """Acknowledgements not sent: their message came on an earlier connection."""
        remote = self._remote.stale_acks_skipped if self._remote else 0
        return self._stale_acks_skipped + remote

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        # connect_async: the hub starts even if the broker is not up yet and
        # keeps retrying with backoff.
        for session in self._clients:
            self._connect(session)
        if self._receiver is not None:
            self._receiver.start(self._loop)

    def _connect(self, session: Session) -> None:
        s = self._settings
        # Receive Maximum on the main connection: no more unacknowledged messages
        # than the inbox holds. Alarms are few and must never wait for a window.
        window = self._inbox_limit if session == "main" else None
        client = self._client_of(session)
        client.connect_async(
            s.mqtt_host,
            s.mqtt_port,
            keepalive=s.mqtt_keepalive_s,
            **connect_options(self._protocol[session], window),
        )
        client.loop_start()

    async def _fall_back_to_mqtt311(self, session: Session, refused: mqtt.Client) -> None:
        """The broker does not speak MQTT 5 (amqtt, the demo's embedded broker): use 3.1.1.

        Nothing was read or sent on the refused connection, so nothing is lost by
        replacing its client; 3.1.1 has no Receive Maximum, and the inbox bound
        (the network thread stops reading) keeps memory bounded instead.
        """
        if (
            self._client_of(session) is not refused
            or self._protocol[session] != mqtt.MQTTv5
            or self._stopping
        ):
            return
        self._protocol[session] = mqtt.MQTTv311  # before the await: one fall-back only
        log.warning(
            "the MQTT broker does not speak MQTT 5; the hub's %s connection uses 3.1.1", session
        )
        # The old client must not report into this bridge's state any more.
        refused.on_connect = refused.on_disconnect = refused.on_message = None
        refused.on_socket_open = None

        def shut_down() -> None:
            refused.disconnect()
            refused.loop_stop()

        await asyncio.to_thread(shut_down)
        if self._stopping:
            return
        self._clients[session] = self._make_client(session)
        self._connect(session)

    @property
    def protocols(self) -> dict[Session, str]:
        """The MQTT version each connection speaks (5 unless the broker refused it)."""
        spoken = {k: "5" if v == mqtt.MQTTv5 else "3.1.1" for k, v in self._protocol.items()}
        if self._receiver is not None and self._remote is not None:
            spoken["main"] = self._remote.protocol
        return spoken

    async def wait_connected(self, within_s: float) -> bool:
        def both() -> bool:
            return all(event.wait(within_s) for event in self._connected.values())

        return await asyncio.to_thread(both)

    async def stop(self) -> None:
        self._stopping = True
        with self._room:
            self._room.notify_all()  # a network thread waiting for room must see the stop
        main = self._clients.get("main")
        if main is not None and self._connected["main"].is_set():
            info = main.publish(
                hub_status_topic(self._settings.hub_client_id), b"offline", qos=1, retain=True
            )
            await asyncio.to_thread(info.wait_for_publish, 2.0)
        if self._receiver is not None:
            await self._receiver.stop()
        for client in self._clients.values():
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)

    # -- paho threads ------------------------------------------------------

    def _on_connect(self, session: Session, client: mqtt.Client, flags: Any, reason: Any) -> None:
        if refused_for_protocol(client, reason) and self._loop is not None:
            fall_back = self._fall_back_to_mqtt311(session, client)
            asyncio.run_coroutine_threadsafe(fall_back, self._loop)
            return
        if reason.is_failure:
            log.error("MQTT broker refused the hub's %s connection: %s", session, reason)
            return
        # Before anything of this connection arrives (paho calls back on one thread).
        self._connects[session] += 1
        sock = client.socket()
        if isinstance(sock, socket.socket):
            # paho leaves Nagle on; acks would wait tens of milliseconds.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Subscribing again is harmless with a resumed session and needed with a new one.
        group = self._settings.shared_group
        client.subscribe(subscriptions(session, group))
        for old in outgrown(session, group):
            client.unsubscribe(old)
        if session == "main":
            client.publish(hub_status_topic(self._settings.hub_client_id), b"online", 1, True)
        self._connected[session].set()
        if self._on_state is not None:
            self._on_state(self)
        log.info(
            "hub's %s connection to MQTT %s:%s is up (MQTT %s, session resumed: %s)",
            session,
            self._settings.mqtt_host,
            self._settings.mqtt_port,
            self.protocols[session],
            flags.session_present,
        )

    def _on_disconnect(self, session: Session, reason: Any) -> None:
        self._connected[session].clear()
        if self._on_state is not None:
            self._on_state(self)
        if self._stopping:
            return
        log.warning(
            "hub lost its %s MQTT connection (%s); paho reconnects with backoff", session, reason
        )

    def _on_message(self, session: Session, msg: mqtt.MQTTMessage) -> None:
        lane = lane_of_topic(msg.topic)
        item = Incoming(
            msg.mid,
            msg.qos,
            msg.topic,
            bytes(msg.payload),
            lane,
            bool(msg.dup),
            self._connects[session],
            session,
        )
        with self._lock:
            self.received_on[session] += 1
            (self._alarms if lane is Lane.ALARM else self._others).append(item)
            wake = not self._wake_pending
            self._wake_pending = True
            full = session == "main" and len(self._others) >= self._inbox_limit
        if wake and self._loop is not None:
            self._loop.call_soon_threadsafe(self._wakeup.set)
        if full:
            self._wait_for_room()

    def _wait_for_room(self) -> None:
        """Hold the main connection's network thread until the worker has taken messages.

        While it waits nothing more is read from that socket, so the broker keeps
        the rest. Acknowledgements queued meanwhile go out once it reads again.
        The wait is bounded so keepalive pings still go out on a stalled worker.
        """
        with self._room:
            self._reading_paused += 1
            waited = 0.0
            while (
                len(self._others) >= self._inbox_limit
                and not self._stopping
                and waited < self._settings.mqtt_keepalive_s / 2
            ):
                self._room.wait(0.5)
                waited += 0.5

    # -- asyncio side --------------------------------------------------------

    def pending(self) -> int:
        with self._lock:
            return len(self._alarms) + len(self._others)

    def _take(self, limit: int) -> list[Incoming]:
        with self._lock:
            taken: list[Incoming] = []
            while self._alarms and len(taken) < limit:
                taken.append(self._alarms.popleft())
            # An alarm batch carries no telemetry: its transaction stays small, so
            # the alarm is committed (and its people told) without waiting for hundreds
            # of heartbeats to be stored with it.
            if not taken:
                while self._others and len(taken) < limit:
                    taken.append(self._others.popleft())
                self._room.notify_all()
            if not self._alarms and not self._others:
                self._wake_pending = False
                self._wakeup.clear()
            return taken

    def _has_alarm(self) -> bool:
        with self._lock:
            return bool(self._alarms)

    async def next_batch(self, max_items: int, max_wait_s: float) -> list[Incoming]:
        """Wait for messages; return up to ``max_items``, alarms first.

        Telemetry waits up to ``max_wait_s`` for the batch to fill; an alarm
        ends the wait at once.
        """
        await self._wakeup.wait()
        if max_wait_s > 0 and not self._has_alarm() and self.pending() < max_items:
            deadline = asyncio.get_running_loop().time() + max_wait_s
            while self.pending() < max_items and not self._has_alarm():
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                await asyncio.sleep(min(remaining, 0.002))
        return self._take(max_items)

    async def publish(self, topic: str, payload: bytes, timeout_s: float = 10.0) -> bool:
        """Publish at QoS 1; True once the broker acknowledged it.

        Commands leave on the alarm connection, whose network thread never
        waits for the ingest worker.
        """
        info = self._clients["alarms"].publish(topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            # Not connected (paho keeps it and sends it on reconnect) or refused: not
            # confirmed either way, so the caller retries; receivers dedup by id.
            return False
        try:
            await asyncio.to_thread(info.wait_for_publish, timeout_s)
            return info.is_published()
        except (RuntimeError, ValueError):
            return False

    def confirm(self, gateway_id: str, ids: Sequence[str]) -> None:
        """Tell a gateway which of its items are committed, without waiting for the broker.

        On the alarm connection, like commands. A confirmation lost on the way (the
        hub dies first, the gateway is offline) only means the gateway sends those
        items again after a while, and the hub confirms the duplicates.
        """
        client = self._clients["alarms"]
        topic = committed_topic(gateway_id)
        for start in range(0, len(ids), _CONFIRM_CHUNK):
            payload = orjson.dumps({"ids": list(ids[start : start + _CONFIRM_CHUNK])})
            client.publish(topic, payload, qos=1)

    def ack(self, items: Sequence[Incoming]) -> None:
        """PUBACK messages whose content is durably stored.

        A message from an earlier connection is not acknowledged: after a
        reconnect its packet id may name a different, not yet stored message.
        A resumed session redelivers the old one, and dedup drops the copy.
        """
        remote: list[tuple[int, int, int]] = []
        for item in items:
            if item.qos == 0:
                continue
            if item.session == "main" and self._receiver is not None:
                generation = item.connection >> _GENERATION_SHIFT
                if generation != self._receiver.generation:
                    self._stale_acks_skipped += 1  # its process is gone, and its connection
                    continue
                connection = item.connection - (generation << _GENERATION_SHIFT)
                remote.append((connection, item.mid, item.qos))
                continue
            if item.connection != self._connects[item.session]:
                self._stale_acks_skipped += 1
                continue
            self._client_of(item.session).ack(item.mid, item.qos)
        if remote and self._receiver is not None:
            self._receiver.ack(remote)

    def ack_wire(self, entries: Sequence[tuple[int, int, int]]) -> None:
        """In a receiver process: acknowledge (connection, mid, qos) the hub has stored."""
        client = self._clients["main"]
        for connection, mid, qos in entries:
            if connection != self._connects["main"]:
                self._stale_acks_skipped += 1
                continue
            client.ack(mid, qos)

    def state(self) -> ReceiverState:
        """In a receiver process: what the hub needs to know of the main connection."""
        from hub.bridge.receiver import ReceiverState

        return ReceiverState(
            connected=self._connected["main"].is_set(),
            connects=self._connects["main"],
            protocol=self.protocols["main"],
            reading_paused=self._reading_paused,
            stale_acks_skipped=self._stale_acks_skipped,
        )

    # -- the receiver process's reports (in the event loop) ----------------------

    def _from_receiver(self, generation: int, wire: Sequence[Wire]) -> None:
        base = generation << _GENERATION_SHIFT
        items = [
            Incoming(mid, qos, topic, payload, lane_of_topic(topic), dup, base + conn, "main")
            for mid, qos, topic, payload, dup, conn in wire
        ]
        with self._lock:
            self.received_on["main"] += len(items)
            self._others.extend(items)
            self._wake_pending = True
        self._wakeup.set()  # in the loop already

    def _receiver_state(self, state: ReceiverState | None) -> None:
        """A report of the receiver process; None when the process has ended."""
        if state is None:
            if self._remote is not None:
                self._remote_connects_before += self._remote.connects
                self._stale_acks_skipped += self._remote.stale_acks_skipped
                self._reading_paused += self._remote.reading_paused
            self._remote = None
            self._connected["main"].clear()
            return
        self._remote = state
        self._connects["main"] = self._remote_connects_before + state.connects
        if state.connected:
            self._connected["main"].set()
        else:
            self._connected["main"].clear()
