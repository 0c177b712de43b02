"""The edge's MQTT uplink: paho-mqtt on its own network thread, bridged to asyncio.

Every event and dead letter goes out at QoS 1, and ``publish_*`` returns only
once the broker's PUBACK arrived: the watch server answers a device only after
that, so an acknowledged alarm is on the broker. While the broker is down paho
keeps the messages and sends them again on reconnect; the awaiting coroutine
just waits longer, up to ``settings.edge_publish_timeout_s``.

A PUBACK alone does not mean "on the broker for the hub": a broker drops a QoS 1
message that no subscription matches, and still acknowledges it. That is the
case until the hub has subscribed on this broker once (its persistent session
then queues everything while it is away): a new broker, a broker whose data was
lost, a hub session that expired. MQTT 3.1.1 cannot tell, so the uplink speaks
MQTT 5, whose PUBACK says "No matching subscribers" (0x10) or carries a refusal
(0x80 and above, e.g. "Not authorized"): such a publish raises
``UplinkNotDelivered``, and the caller keeps the message (the outbox retries it,
a device server does not reply). Retained publishes (the gateway's status) are
exempt from the 0x10 check: the broker keeps a retained message without
subscribers. A broker that does not speak MQTT 5 (amqtt, the demo's embedded
broker, refuses it, or with a will never answers it) gets 3.1.1 instead, without
that check: the first connection falls back when the CONNACK refuses the
protocol or does not come within ``_CONNACK_WAIT_S`` of the TCP connection.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any, Final, Protocol

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.client import ConnectFlags, DisconnectFlags
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from device_adapters.model import DeadLetter, DeviceEvent
from edge.settings import EdgeSettings
from hub.bridge.topics import (
    committed_topic,
    dead_letter_topic,
    event_topic,
    gateway_status_topic,
    hub_status_subscription,
)

log = logging.getLogger(__name__)

ONLINE = b"online"
OFFLINE = b"offline"

# Room in paho's queue beyond the tracked publishes, for the untracked retained
# "online" status published on each reconnect.
_STATUS_HEADROOM = 16
# How long stop() waits for the broker to acknowledge the "offline" status.
_STOP_ACK_TIMEOUT_S = 5.0
# MQTT 5 PUBACK reason code: accepted, but no subscription matched, so the
# broker dropped the message (a success code, below 0x80).
NO_MATCHING_SUBSCRIBERS: Final = 0x10
# CONNACK reason code of a broker that speaks only MQTT 3.1.1 (its return code 1).
_UNSUPPORTED_PROTOCOL_VERSION: Final = 0x84
# Most ids one confirmation may carry, and the longest id (a UUID has 36 characters).
_MAX_CONFIRM_IDS: Final = 10_000
_MAX_ID_LENGTH: Final = 64

# A broker that has not answered an MQTT 5 CONNECT this long after accepting the
# TCP connection is taken not to speak MQTT 5 (Mosquitto answers in milliseconds).
_CONNACK_WAIT_S: Final = 3.0


class UplinkError(Exception):
    """A publish could not be handed to the broker."""


class UplinkTimeout(UplinkError):
    """The broker did not acknowledge a publish in time; paho may still deliver it later."""


class UplinkNotDelivered(UplinkError):
    """The broker acknowledged a publish without keeping it: no subscriber, or refused."""


class EventPublisher(Protocol):
    """What the device-facing servers need from an uplink (tests may pass a fake)."""

    async def publish_event(self, event: DeviceEvent) -> None: ...

    async def publish_dead_letter(self, dl: DeadLetter) -> None: ...


class MqttUplink:
    """Publishes to the broker at QoS 1 and awaits the PUBACK of each message.

    The bookkeeping of message ids is shared between paho's network thread
    (``on_publish``) and the event loop thread (``_publish``), under one
    ``threading.Lock``:

    - ``_waiters``: mid -> future of a coroutine awaiting its PUBACK (resolved
      with the PUBACK's reason code).
    - ``_acked_early``: PUBACKs (mid -> reason code) that arrived before the
      publisher registered its future (paho sends from the network thread, so
      the ack can beat us).
    - ``_abandoned``: mids whose publisher timed out or was cancelled; paho still
      holds and will resend them, so they keep their in-flight slot until acked.
    - ``_ignored``: untracked publishes (the retained "online" status).

    Our lock is never held while calling into paho: paho calls ``on_publish``
    holding its own message mutex, and the opposite order would deadlock.
    """

    def __init__(self, settings: EdgeSettings) -> None:
        self._settings = settings
        self.gateway_id = settings.gateway_id
        self.status_topic = gateway_status_topic(self.gateway_id)
        self._client: mqtt.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._waiters: dict[int, asyncio.Future[ReasonCode]] = {}
        self._acked_early: dict[int, ReasonCode] = {}
        self._abandoned: set[int] = set()
        self._ignored: set[int] = set()
        # Bounds the messages paho holds: its mids wrap at 65535, and more
        # outstanding than its queue allows gives MQTT_ERR_QUEUE_SIZE.
        self._slots = asyncio.Semaphore(settings.edge_max_in_flight)
        self._connected = False
        self._stopping = False
        self._connected_event = asyncio.Event()
        # Shutting down a client replaced by one speaking MQTT 3.1.1.
        self._retired: set[asyncio.Task[None]] = set()
        # The current client had a CONNACK; until then, counts its TCP connections.
        self._ever_connected = False
        self._socket_opens = 0
        # The hub's confirmations and status, for the outbox (``listen``); on the loop.
        self._on_committed: Callable[[list[str]], None] | None = None
        self._on_hub_status: Callable[[str, bool], None] | None = None
        self.bad_confirmations = 0

    def listen(
        self,
        committed: Callable[[list[str]], None],
        hub_status: Callable[[str, bool], None],
    ) -> None:
        """Before ``start``: hand the hub's confirmations of this gateway's items, and
        every hub's online/offline status, to these callbacks (on the event loop)."""
        self._on_committed, self._on_hub_status = committed, hub_status

    # -- lifecycle ---------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    async def start(self) -> None:
        """Start connecting in the background; succeeds even while the broker is down."""
        if self._client is not None:
            raise RuntimeError("uplink already started")
        self._loop = asyncio.get_running_loop()
        s = self._settings
        # Fresh slots: a previous run may have left some held by unacknowledged messages.
        self._slots = asyncio.Semaphore(s.edge_max_in_flight)
        self._stopping = False
        self._ever_connected = False
        first = (
            MQTTProtocolVersion.MQTTv5 if s.mqtt_protocol == "5" else MQTTProtocolVersion.MQTTv311
        )
        self._start_client(first)
        log.info("uplink %s connecting to %s:%s", self.gateway_id, s.mqtt_host, s.mqtt_port)

    def _start_client(self, protocol: MQTTProtocolVersion) -> None:
        s = self._settings
        # MQTT 5 for its PUBACK reason codes (see the module docstring). A clean
        # session on every connection either way: paho itself resends what is unacked.
        if protocol == MQTTProtocolVersion.MQTTv5:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=f"edge-{self.gateway_id}", protocol=protocol
            )
        else:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=f"edge-{self.gateway_id}",
                clean_session=True,
                protocol=protocol,
            )
        if s.mqtt_username:
            password = s.mqtt_password.get_secret_value() if s.mqtt_password else None
            client.username_pw_set(s.mqtt_username, password)
        client.will_set(self.status_topic, OFFLINE, qos=1, retain=True)
        client.max_inflight_messages_set(s.edge_max_in_flight)
        client.max_queued_messages_set(s.edge_max_in_flight + _STATUS_HEADROOM)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        if protocol == MQTTProtocolVersion.MQTTv5:
            client.on_socket_open = self._on_socket_open
        self._client = client
        # connect_async + loop_start: paho's thread retries the first connection
        # too, so the edge can start before the broker. (clean_start: MQTT 5 only.)
        client.connect_async(
            s.mqtt_host, s.mqtt_port, keepalive=s.mqtt_keepalive_s, clean_start=True
        )
        client.loop_start()

    def _fall_back_to_mqtt311(self, refused: mqtt.Client) -> None:
        """On the event loop: the broker does not speak MQTT 5 (amqtt, the demo's
        embedded broker); connect again with 3.1.1, whose PUBACK cannot say that
        nobody took a message."""
        if self._client is not refused or self._stopping:
            return
        log.warning(
            "uplink %s: the broker does not speak MQTT 5; using 3.1.1, where a message"
            " that no subscriber (no hub) takes is acknowledged like a delivered one",
            self.gateway_id,
        )
        # Nothing went out on a refused connection: fail what waits for a PUBACK (the
        # outbox sends it again) and give back the slots those messages held.
        with self._lock:
            waiters = list(self._waiters.values())
            held = len(self._waiters) + len(self._abandoned)
            self._waiters.clear()
            self._abandoned.clear()
            self._acked_early.clear()
            self._ignored.clear()
        for _ in range(held):
            self._slots.release()
        for fut in waiters:
            if not fut.done():
                fut.set_exception(UplinkError("broker refused MQTT 5; sending again over 3.1.1"))
        # The old client must not report into our state any more.
        refused.on_connect = None
        refused.on_disconnect = None
        refused.on_publish = None
        refused.on_message = None
        refused.on_socket_open = None
        self._start_client(MQTTProtocolVersion.MQTTv311)
        task = asyncio.create_task(asyncio.to_thread(_shut_down, refused))
        self._retired.add(task)
        task.add_done_callback(self._retired.discard)

    def _check_connack(self, client: mqtt.Client, attempt: int) -> None:
        """On the event loop, ``_CONNACK_WAIT_S`` after a TCP connection of ``client``."""
        if self._client is client and not self._ever_connected and self._socket_opens == attempt:
            self._fall_back_to_mqtt311(client)

    async def wait_connected(self) -> None:
        """Wait until the broker accepted the connection (wrap in asyncio.timeout)."""
        await self._connected_event.wait()

    async def stop(self) -> None:
        """Publish the retained "offline" status, disconnect cleanly, stop paho's thread."""
        client = self._client
        if client is None:
            return
        if self._connected:
            try:
                await self._publish(
                    self.status_topic,
                    OFFLINE,
                    retain=True,
                    limit_s=min(self._settings.edge_publish_timeout_s, _STOP_ACK_TIMEOUT_S),
                )
            except UplinkError as exc:
                log.warning("uplink %s: offline status not acknowledged: %s", self.gateway_id, exc)
        self._stopping = True
        # A clean DISCONNECT tells the broker not to publish the will; the
        # retained "offline" above already says the same.
        client.disconnect()
        await asyncio.to_thread(client.loop_stop)
        if self._retired:
            await asyncio.gather(*self._retired, return_exceptions=True)
        self._client = None
        self._connected = False
        self._connected_event.clear()
        with self._lock:
            waiters = list(self._waiters.values())
            self._waiters.clear()
            self._acked_early.clear()
            self._abandoned.clear()
            self._ignored.clear()
        for fut in waiters:
            if not fut.done():
                fut.set_exception(UplinkError("uplink stopped"))
        log.info("uplink %s stopped", self.gateway_id)

    # -- publishing ------------------------------------------------------------------

    async def publish_event(self, event: DeviceEvent) -> None:
        topic = event_topic(self.gateway_id, event.lane, event.device_id)
        await self._publish(topic, event.model_dump_json().encode())

    async def publish_dead_letter(self, dl: DeadLetter) -> None:
        await self._publish(dead_letter_topic(self.gateway_id), dl.model_dump_json().encode())

    async def _publish(
        self, topic: str, payload: bytes, *, retain: bool = False, limit_s: float | None = None
    ) -> None:
        client, loop = self._client, self._loop
        if client is None or loop is None:
            raise UplinkError("uplink not started")
        limit = self._settings.edge_publish_timeout_s if limit_s is None else limit_s
        # One deadline for waiting for a slot and for the PUBACK together.
        deadline = loop.time() + limit
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError:
            raise UplinkTimeout(f"no in-flight slot within {limit:g}s for {topic}") from None

        # From here the slot belongs to the message and is released when the
        # broker acknowledges it (in _settle), not when this coroutine ends.
        try:
            info = client.publish(topic, payload, qos=1, retain=retain)
        except BaseException:
            self._slots.release()
            raise
        # NO_CONN: paho queued the message and sends it after reconnecting.
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            self._slots.release()
            raise UplinkError(f"publish to {topic} refused: {mqtt.error_string(info.rc)}")
        mid = info.mid
        fut: asyncio.Future[ReasonCode] = loop.create_future()
        with self._lock:
            reason = self._acked_early.pop(mid, None)
            if reason is None:
                self._waiters[mid] = fut
        if reason is not None:
            self._slots.release()
        else:
            try:
                async with asyncio.timeout_at(deadline):
                    reason = await fut
            except TimeoutError:
                self._abandon(mid)
                raise UplinkTimeout(
                    f"no PUBACK within {limit:g}s for {topic} (mid {mid})"
                ) from None
            except asyncio.CancelledError:
                self._abandon(mid)
                raise
        _check_delivered(topic, reason, retain=retain)

    def _abandon(self, mid: int) -> None:
        with self._lock:
            if self._waiters.pop(mid, None) is not None:
                # Still unacknowledged: the late ack releases the slot.
                self._abandoned.add(mid)
            # Otherwise the ack was already seen and _settle releases the slot.

    def _settle(self, fut: asyncio.Future[ReasonCode] | None, reason: ReasonCode) -> None:
        """On the event loop: a tracked message was acknowledged."""
        self._slots.release()
        if fut is not None and not fut.done():
            fut.set_result(reason)

    # -- paho callbacks (network thread) ------------------------------------------------

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        # Only set on an MQTT 5 client: a CONNECT follows, watch for its CONNACK.
        if self._ever_connected or self._loop is None or self._loop.is_closed():
            return
        self._socket_opens += 1
        self._loop.call_soon_threadsafe(
            self._loop.call_later, _CONNACK_WAIT_S, self._check_connack, client, self._socket_opens
        )

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            if (
                reason_code.value == _UNSUPPORTED_PROTOCOL_VERSION
                and client.protocol == MQTTProtocolVersion.MQTTv5
                and self._loop is not None
            ):
                self._loop.call_soon_threadsafe(self._fall_back_to_mqtt311, client)
                return
            log.warning("uplink %s: broker refused connection: %s", self.gateway_id, reason_code)
            return
        self._ever_connected = True
        sock = client.socket()
        if isinstance(sock, socket.socket):
            # paho leaves Nagle on, which delays small PUBACK-bound publishes.
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError as exc:
                log.debug("TCP_NODELAY not set: %s", exc)
        self._connected = True
        if self._on_committed is not None:
            # A clean session: subscribe on every connect. Confirmations sent while the
            # gateway was away are lost; the outbox sends those items again, and the
            # hub confirms the duplicates.
            client.subscribe(
                [(committed_topic(self.gateway_id), 1), (hub_status_subscription(), 1)]
            )
        info = client.publish(self.status_topic, ONLINE, qos=1, retain=True)
        if info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            # Published from this thread, so its PUBACK cannot be handled before this.
            with self._lock:
                self._ignored.add(info.mid)
        log.info("uplink %s connected", self.gateway_id)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._connected_event.set)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        """The hub's confirmations and status (network thread). Only the hub account may
        write them (docs/trust.md), but a malformed one is still counted and skipped."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        topic = msg.topic
        if topic == committed_topic(self.gateway_id):
            ids = _confirmed_ids(bytes(msg.payload))
            if ids is None:
                self.bad_confirmations += 1
                log.warning("uplink %s: unreadable confirmation skipped", self.gateway_id)
            elif self._on_committed is not None:
                loop.call_soon_threadsafe(self._on_committed, ids)
        elif topic.endswith("/status") and self._on_hub_status is not None:
            hub_id = topic.split("/")[-2]
            loop.call_soon_threadsafe(self._on_hub_status, hub_id, msg.payload == ONLINE)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        was_connected, self._connected = self._connected, False
        if was_connected and not self._stopping:
            log.warning("uplink %s disconnected: %s", self.gateway_id, reason_code)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._connected_event.clear)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties,
    ) -> None:
        # Called with paho's message mutex held: only touch our own state here.
        with self._lock:
            if mid in self._ignored:
                self._ignored.discard(mid)
                return
            fut = self._waiters.pop(mid, None)
            if fut is None:
                if mid in self._abandoned:
                    self._abandoned.discard(mid)
                else:
                    self._acked_early[mid] = reason_code
                    return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._settle, fut, reason_code)


def _check_delivered(topic: str, reason: ReasonCode, *, retain: bool) -> None:
    """Raise unless the PUBACK's reason code says the broker kept the message."""
    if reason.is_failure:
        raise UplinkNotDelivered(f"broker refused {topic}: {reason}")
    if reason.value == NO_MATCHING_SUBSCRIBERS and not retain:
        # Dropped by the broker: nobody (the hub, above all) has subscribed yet.
        raise UplinkNotDelivered(
            f"broker dropped {topic} ({reason}): the hub has not subscribed on this broker yet"
        )


def _confirmed_ids(payload: bytes) -> list[str] | None:
    """The ids of a confirmation ``{"ids": [...]}``, or None if it is not one."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    ids = body.get("ids") if isinstance(body, dict) else None
    if (
        not isinstance(ids, list)
        or len(ids) > _MAX_CONFIRM_IDS
        or not all(isinstance(i, str) and len(i) <= _MAX_ID_LENGTH for i in ids)
    ):
        return None
    return ids


def _shut_down(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()
