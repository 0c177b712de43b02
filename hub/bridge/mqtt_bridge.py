"""The hub's MQTT consumer on paho-mqtt, bridged to asyncio.

Guarantees it gives the ingest worker:
- QoS 1 with a persistent session (clean_session=False, fixed client id): what
  arrives while the hub is down waits in the broker.
- Manual acknowledgement: a message is PUBACKed only when the worker calls
  ``ack`` after the transaction holding it committed. Until then the broker
  keeps it and redelivers it after a reconnect.
- Bounded memory: the broker sends at most its in-flight window of unacked
  QoS 1 messages (Mosquitto's ``max_inflight_messages``), so the inbox can
  never hold more than that.
- Alarms first: messages on the alarm lane are handed out before telemetry.

paho runs its network loop in its own thread; callbacks append to two deques
under a lock and wake the asyncio side at most once per drain, which keeps
the per-message cost of crossing threads small.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from device_adapters.model import Lane
from hub.bridge.paho_client import persistent_consumer
from hub.bridge.topics import (
    AVAILABILITY_SUBSCRIPTION,
    COMMAND_RESULTS_SUBSCRIPTION,
    DEAD_LETTERS_SUBSCRIPTION,
    EVENTS_SUBSCRIPTION,
    GATEWAY_STATUS_SUBSCRIPTION,
    hub_status_topic,
    lane_of_topic,
)
from hub.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incoming:
    mid: int
    qos: int
    topic: str
    payload: bytes
    lane: Lane | None
    redelivered: bool
    connection: int  # which connection delivered it: a packet id means nothing on another


class MqttBridge:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._alarms: deque[Incoming] = deque()
        self._others: deque[Incoming] = deque()
        self._wake_pending = False
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = threading.Event()
        self._stopping = False
        self._client = self._make_client()
        self.received = 0
        self.connects = 0
        self.stale_acks_skipped = 0

    def _make_client(self) -> mqtt.Client:
        s = self._settings
        client = persistent_consumer(s.hub_client_id, s)
        status = hub_status_topic(s.hub_client_id)
        client.will_set(status, b"offline", qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        s = self._settings
        # connect_async: the hub starts even if the broker is not up yet and
        # keeps retrying with backoff.
        self._client.connect_async(s.mqtt_host, s.mqtt_port, keepalive=s.mqtt_keepalive_s)
        self._client.loop_start()

    async def wait_connected(self, within_s: float) -> bool:
        return await asyncio.to_thread(self._connected.wait, within_s)

    async def stop(self) -> None:
        self._stopping = True
        if self._connected.is_set():
            info = self._client.publish(
                hub_status_topic(self._settings.hub_client_id), b"offline", qos=1, retain=True
            )
            await asyncio.to_thread(info.wait_for_publish, 2.0)
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)

    # -- paho thread -------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.error("MQTT broker refused the hub: %s", reason)
            return
        # Before anything of this connection arrives (paho calls back on one thread).
        self.connects += 1
        sock = client.socket()
        if isinstance(sock, socket.socket):
            # paho leaves Nagle on; acks would wait tens of milliseconds.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Subscribing again is harmless with a resumed session and needed with a new one.
        client.subscribe(
            [
                (EVENTS_SUBSCRIPTION, 1),
                (DEAD_LETTERS_SUBSCRIPTION, 1),
                (AVAILABILITY_SUBSCRIPTION, 1),
                (GATEWAY_STATUS_SUBSCRIPTION, 1),
                (COMMAND_RESULTS_SUBSCRIPTION, 1),
            ]
        )
        client.publish(hub_status_topic(self._settings.hub_client_id), b"online", 1, True)
        self._connected.set()
        log.info(
            "hub connected to MQTT %s:%s (session resumed: %s)",
            self._settings.mqtt_host,
            self._settings.mqtt_port,
            flags.session_present,
        )

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        if self._stopping:
            return
        log.warning("hub lost MQTT connection (%s); paho reconnects with backoff", reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        lane = lane_of_topic(msg.topic)
        item = Incoming(
            msg.mid, msg.qos, msg.topic, bytes(msg.payload), lane, bool(msg.dup), self.connects
        )
        with self._lock:
            self.received += 1
            (self._alarms if lane is Lane.ALARM else self._others).append(item)
            wake = not self._wake_pending
            self._wake_pending = True
        if wake and self._loop is not None:
            self._loop.call_soon_threadsafe(self._wakeup.set)

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
        """Publish at QoS 1; True once the broker acknowledged it."""
        info = self._client.publish(topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            # Not connected (paho keeps it and sends it on reconnect) or refused: not
            # confirmed either way, so the caller retries; receivers dedup by id.
            return False
        try:
            await asyncio.to_thread(info.wait_for_publish, timeout_s)
            return info.is_published()
        except (RuntimeError, ValueError):
            return False

    def ack(self, items: Sequence[Incoming]) -> None:
        """PUBACK messages whose content is durably stored.

        A message from an earlier connection is not acknowledged: after a
        reconnect its packet id may name a different, not yet stored message.
        A resumed session redelivers the old one, and dedup drops the copy.
        """
        current = self.connects
        for item in items:
            if item.qos == 0:
                continue
            if item.connection != current:
                self.stale_acks_skipped += 1
                continue
            self._client.ack(item.mid, item.qos)
