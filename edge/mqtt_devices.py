"""Locks that report through the community's local MQTT broker: Zigbee2MQTT and Tuya.

A :class:`chub_mqtt.Client` on the local broker (``settings.local_mqtt_host``/``_port``,
by default the broker the uplink uses; MQTT 3.1.1) subscribes at QoS 1 to:

- ``<z2m_base>/#``: Zigbee2MQTT. ``<base>/<name>`` is a device's state message,
  ``<base>/<name>/availability`` its availability; ``<base>/bridge/...`` and the
  command topics ``<base>/<name>/set``/``get`` (and ``.../set/<attr>``) are ignored.
  Friendly names may contain ``/``: the name is everything between the base and an
  optional final ``/availability``.
- ``<tuya_base>/+/state``: our Tuya->MQTT bridge publishes one data-point report per
  message on ``<tuya_base>/<devId>/state`` (envelope in device_adapters.tuya.codec).

Nothing is lost between the local broker and the uplink:

- a persistent session (``clean_session=False``, fixed client id
  ``edge-<gateway_id>-devices``) and **manual acknowledgement**: a message is PUBACKed
  only after the uplink confirmed (PUBACK from the upstream broker) every event it
  gave, or its dead letter. Until then the local broker keeps it and redelivers it
  after a reconnect or a restart of the edge.
- an uplink failure is retried in-process with capped exponential backoff (the same
  events, same event ids, so the hub drops a copy that paho delivered late); on
  ``stop()`` or a lost connection the retry ends without an ack and the broker's
  redelivery takes over (decoded anew: new event ids).
- undecodable payloads become DeadLetters (raw payload, topic as source), then are
  acknowledged.
- an ack is never sent on a later connection than the one that delivered the message
  (the packet id would name another message there).

This only covers messages published at QoS 1. **Zigbee2MQTT publishes at QoS 0 unless
configured** (``qos: 1`` for the device in its configuration); at QoS 0 the broker
keeps nothing for us. Messages delivered because they were retained are replays of an
old state, not new happenings: only their state-like events (``lock.state``,
``device.login``, ``device.heartbeat``) are forwarded, so that a retained
``unlock`` or hijack report is not raised again on every edge restart.

For commands down (edge/commands.py): :meth:`LocalMqttDevices.publish` publishes on the
local broker (a lock's ``<z2m_base>/<name>/set``), :meth:`LocalMqttDevices.expect_event`
gives a future that the device's next fresh report matching a predicate resolves, and
:meth:`LocalMqttDevices.friendly_name` maps a device id back to its Zigbee2MQTT name.

Availability (with a tracker given): Zigbee2MQTT's availability messages make a device
online "bridge_online" or offline "bridge_offline"; a fresh (not retained) state report
of a Zigbee or Tuya lock counts as a sign of life.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal
from uuid import uuid4

from chub_mqtt import Client, MqttError
from device_adapters import tuya, zigbee2mqtt
from device_adapters.base import MessageContext
from device_adapters.errors import DecodeError
from device_adapters.model import DeadLetter, DeviceEvent, DeviceFamily, Lane
from edge.availability import BRIDGE_OFFLINE, BRIDGE_ONLINE, AvailabilitySink
from edge.mqtt_connection import local
from edge.settings import EdgeSettings
from edge.uplink import EventPublisher, UplinkError

log = logging.getLogger(__name__)

RETAINED_KINDS: Final = frozenset({"lock.state", "device.login", "device.heartbeat"})
_MAX_REASON: Final = 1000  # DeadLetter.reason max_length
_MAX_SOURCE: Final = 256  # DeadLetter.source max_length

RouteKind = Literal["z2m_state", "z2m_availability", "tuya_state"]
_Future = asyncio.Future[DeviceEvent]


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    # The device as the topic names it: Zigbee2MQTT friendly name or Tuya devId.
    name: str


def route_topic(topic: str, z2m_base: str, tuya_base: str) -> Route | None:
    """What a topic carries, or None for topics that are not device reports."""
    z2m_prefix, tuya_prefix = f"{z2m_base}/", f"{tuya_base}/"
    if topic.startswith(z2m_prefix):
        rest = topic[len(z2m_prefix) :]
        parts = rest.split("/")
        if not rest or parts[0] == "bridge":
            return None
        if parts[-1] in ("set", "get") or (len(parts) > 1 and parts[-2] in ("set", "get")):
            return None
        if parts[-1] == "availability":
            name = "/".join(parts[:-1])
            return Route("z2m_availability", name) if name else None
        return Route("z2m_state", rest)
    if topic.startswith(tuya_prefix):
        parts = topic[len(tuya_prefix) :].split("/")
        if len(parts) == 2 and parts[0] and parts[1] == "state":
            return Route("tuya_state", parts[0])
    return None


_Decoder = Callable[[bytes, MessageContext], list[DeviceEvent]]
_DECODERS: Final[dict[RouteKind, tuple[_Decoder, str]]] = {
    "z2m_state": (zigbee2mqtt.decode, zigbee2mqtt.PROTOCOL),
    "z2m_availability": (zigbee2mqtt.decode_availability, zigbee2mqtt.PROTOCOL),
    "tuya_state": (tuya.decode, tuya.PROTOCOL),
}


@dataclass
class LocalMqttStats:
    """Counters since start; read by logs, the CLI and tests."""

    received: int = 0
    events: int = 0
    dead_letters: int = 0
    ignored: int = 0
    acked: int = 0
    publish_failures: int = 0
    retries: int = 0
    unacked_on_stop: int = 0
    stale_acks_skipped: int = 0
    retained_events_dropped: int = 0
    connects: int = 0


@dataclass(frozen=True)
class _Incoming:
    mid: int
    qos: int
    topic: str
    payload: bytes
    retain: bool
    connection: int
    received_at: datetime


class LocalMqttDevices:
    def __init__(
        self,
        settings: EdgeSettings,
        uplink: EventPublisher,
        *,
        client_id: str | None = None,
        workers: int = 8,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        stop_timeout_s: float = 5.0,
        availability: AvailabilitySink | None = None,
    ) -> None:
        self._settings = settings
        self._uplink = uplink
        self.gateway_id = settings.gateway_id
        self.host = settings.local_mqtt_host or settings.mqtt_host
        self.port = settings.local_mqtt_port or settings.mqtt_port
        self.client_id = client_id or f"edge-{settings.gateway_id}-devices"
        self.z2m_base = settings.z2m_base_topic.rstrip("/")
        self.tuya_base = settings.tuya_base_topic.rstrip("/")
        self.subscriptions: list[tuple[str, int]] = [
            (f"{self.z2m_base}/#", 1),
            (f"{self.tuya_base}/+/state", 1),
        ]
        self.stats = LocalMqttStats()
        # Last availability Zigbee2MQTT reported per device id (there is no offline
        # event kind yet, so this is where "offline" is visible).
        self.availability: dict[str, bool] = {}
        # Zigbee2MQTT friendly name per device id, as last seen in a topic (the id is
        # the sanitized name, so the name cannot always be read back from it).
        self._names: dict[str, str] = {}
        self._tracker = availability
        self._expected: dict[str, list[tuple[Callable[[DeviceEvent], bool], _Future]]] = {}
        self._workers_n = workers
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._stop_timeout_s = stop_timeout_s
        self._client: Client | None = None
        self._reader: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[_Incoming] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._busy = 0
        self._idle = asyncio.Event()
        self._stopping = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    async def start(self) -> None:
        """Start connecting in the background; succeeds even while the broker is down."""
        if self._client is not None:
            raise RuntimeError("local MQTT devices already started")
        self._queue = asyncio.Queue()
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._workers = [
            asyncio.create_task(self._worker(), name=f"mqtt-devices-{i}")
            for i in range(self._workers_n)
        ]
        client = Client(
            local(self._settings, self.client_id),
            persistent=True,
            manual_ack=True,
            subscriptions=self.subscriptions,
            on_connection=self._on_connection,
            name="local MQTT devices",
        )
        self._client = client
        await client.start()
        self._reader = asyncio.create_task(self._read(client), name="mqtt-devices-read")
        log.info("local MQTT devices connecting to %s:%s", self.host, self.port)

    async def wait_connected(self) -> None:
        """Wait until connected and subscribed (wrap in asyncio.timeout)."""
        client = self._client
        if client is None:
            raise RuntimeError("local MQTT devices not started")
        await client.wait_connected()

    # -- commands down -----------------------------------------------------------------

    def friendly_name(self, device_id: str) -> str | None:
        """The Zigbee2MQTT friendly name of ``z2m:<...>``: as last seen, else the id's own."""
        name = self._names.get(device_id)
        if name is not None:
            return name
        prefix = f"{zigbee2mqtt.DEVICE_ID_PREFIX}:"
        if not device_id.startswith(prefix) or device_id == prefix:
            return None
        return device_id[len(prefix) :]

    async def publish(self, topic: str, payload: bytes, *, timeout_s: float = 10.0) -> bool:
        """Publish at QoS 1 on the local broker; True once the broker acknowledged it."""
        client = self._client
        if client is None:
            return False
        try:
            async with asyncio.timeout(timeout_s):
                await client.publish(topic, payload, qos=1)
        except MqttError as exc:
            log.warning("publish to %s refused: %s", topic, exc)
            return False
        except TimeoutError:
            return False
        return True

    def expect_event(
        self, device_id: str, predicate: Callable[[DeviceEvent], bool]
    ) -> asyncio.Future[DeviceEvent]:
        """A future for the device's next event (from a fresh, not retained, report) that
        ``predicate`` accepts; the caller bounds the wait (cancelling forgets it)."""
        fut: _Future = asyncio.get_running_loop().create_future()
        waiting = [w for w in self._expected.get(device_id, []) if not w[1].done()]
        waiting.append((predicate, fut))
        self._expected[device_id] = waiting
        return fut

    def _resolve_expected(self, events: list[DeviceEvent]) -> None:
        for event in events:
            waiting = self._expected.get(event.device_id)
            if not waiting:
                continue
            keep = []
            for predicate, fut in waiting:
                if fut.done():
                    continue
                if predicate(event):
                    fut.set_result(event)
                else:
                    keep.append((predicate, fut))
            if keep:
                self._expected[event.device_id] = keep
            else:
                del self._expected[event.device_id]

    async def stop(self) -> None:
        """Finish what is being handled (bounded), then disconnect; the rest is redelivered."""
        client = self._client
        if client is None:
            return
        self._stopping.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._stop_timeout_s):
                await self._idle.wait()
        tasks = [*self._workers, *([self._reader] if self._reader is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers = []
        self._reader = None
        left = self._queue.qsize()
        self.stats.unacked_on_stop += left
        self._client = None
        await client.stop()
        log.info("local MQTT devices stopped (%d unacknowledged, left to the broker)", left)

    # -- receiving -------------------------------------------------------------------

    def _on_connection(self, up: bool) -> None:
        if up:
            self.stats.connects += 1

    async def _read(self, client: Client) -> None:
        async for m in client.messages:
            item = _Incoming(
                mid=m.mid,
                qos=m.qos,
                topic=m.topic,
                payload=m.payload,
                retain=m.retain,
                connection=m.connection,
                received_at=datetime.now(UTC),
            )
            self._queue.put_nowait(item)

    async def _worker(self) -> None:
        while True:
            item = await self._queue.get()
            if self._stopping.is_set():
                # Left unacknowledged: the broker redelivers it to the next session.
                self.stats.unacked_on_stop += 1
                continue
            self._busy += 1
            self._idle.clear()
            try:
                await self._handle(item)
            except Exception:
                # Not acknowledged: the broker redelivers it after the next reconnect.
                log.exception("local MQTT message on %s failed", item.topic)
            finally:
                self._busy -= 1
                if self._busy == 0:
                    self._idle.set()

    async def _handle(self, item: _Incoming) -> None:
        self.stats.received += 1
        route = route_topic(item.topic, self.z2m_base, self.tuya_base)
        if route is None:
            self.stats.ignored += 1
            self._ack(item)
            return
        decode, protocol = _DECODERS[route.kind]
        source = f"mqtt {item.topic}"[:_MAX_SOURCE]
        ctx = MessageContext(
            received_at=item.received_at,
            gateway_id=self.gateway_id,
            source=source,
            device_hint=route.name,
        )
        try:
            events = decode(item.payload, ctx)
        except DecodeError as exc:
            reason = exc.reason or type(exc).__name__
        except Exception as exc:
            # A bug in an adapter must neither lose the message nor stall the queue.
            log.exception("adapter for %s failed on %s", protocol, item.topic)
            reason = f"adapter error: {type(exc).__name__}: {exc}"
        else:
            if route.kind == "z2m_availability":
                self._note_availability(route.name, item.payload)
            elif not item.retain:
                self._note_report(route)
                self._resolve_expected(events)
            if item.retain:
                kept = [e for e in events if e.kind in RETAINED_KINDS]
                self.stats.retained_events_dropped += len(events) - len(kept)
                events = kept
            if await self._deliver(item, events, None):
                self._ack(item)
            return
        dl = DeadLetter(
            dead_letter_id=uuid4(),
            gateway_id=self.gateway_id,
            source=source,
            protocol=protocol,
            device_id=_device_id_of(route),
            received_at=item.received_at,
            reason=reason[:_MAX_REASON],
            raw=item.payload,
        )
        log.info("dead letter from %s: %s", item.topic, reason)
        if await self._deliver(item, [], dl):
            self._ack(item)

    def _note_availability(self, name: str, payload: bytes) -> None:
        available = zigbee2mqtt.availability_of(payload)
        if available is None:
            return
        device_id = zigbee2mqtt.device_id_for(name)
        self._names[device_id] = name
        if self.availability.get(device_id) is not False and not available:
            log.warning("Zigbee device %s is offline", device_id)
        self.availability[device_id] = available
        if self._tracker is not None:
            if available:
                self._tracker.online(device_id, DeviceFamily.LOCK, BRIDGE_ONLINE)
            else:
                self._tracker.offline(device_id, DeviceFamily.LOCK, BRIDGE_OFFLINE)

    def _note_report(self, route: Route) -> None:
        """A fresh state report: the lock is alive (and this is its friendly name)."""
        device_id = _device_id_of(route)
        if device_id is None:
            return
        if route.kind == "z2m_state":
            self._names[device_id] = route.name
        if self._tracker is not None:
            self._tracker.seen(device_id, DeviceFamily.LOCK)

    async def _deliver(
        self, item: _Incoming, events: list[DeviceEvent], dead_letter: DeadLetter | None
    ) -> bool:
        """Publish until the uplink confirmed all; False if given up (stop, reconnect)."""
        pending = sorted(events, key=lambda e: e.lane is not Lane.ALARM)
        pending_dl = dead_letter
        delay = self._retry_initial_s
        while True:
            pending, pending_dl = await self._publish_once(pending, pending_dl)
            if not pending and pending_dl is None:
                return True
            self.stats.publish_failures += 1
            if self._stopping.is_set() or item.connection != self._connects():
                return False
            log.warning(
                "uplink did not take %d item(s) from %s; retrying in %.1fs",
                len(pending) + (pending_dl is not None),
                item.topic,
                delay,
            )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stopping.wait()
            if self._stopping.is_set():
                return False
            self.stats.retries += 1
            delay = min(delay * 2, self._retry_max_s)

    async def _publish_once(
        self, events: list[DeviceEvent], dead_letter: DeadLetter | None
    ) -> tuple[list[DeviceEvent], DeadLetter | None]:
        """One attempt; returns what the uplink did not take."""
        calls = [self._uplink.publish_event(e) for e in events]
        if dead_letter is not None:
            calls.append(self._uplink.publish_dead_letter(dead_letter))
        results = await asyncio.gather(*calls, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, UplinkError):
                raise result
        failed_events = [e for e, r in zip(events, results, strict=False) if r is not None]
        self.stats.events += len(events) - len(failed_events)
        dl_failed = dead_letter is not None and results[-1] is not None
        if dead_letter is not None and not dl_failed:
            self.stats.dead_letters += 1
        return failed_events, dead_letter if dl_failed else None

    def _connects(self) -> int:
        """Which connection is current (messages of an earlier one cannot be acked)."""
        return self._client.connects if self._client is not None else -1

    def _ack(self, item: _Incoming) -> None:
        client = self._client
        if item.qos == 0 or client is None:
            return
        if not client.ack_packet(item.connection, item.mid, item.qos):
            self.stats.stale_acks_skipped += 1
            return
        self.stats.acked += 1


def _device_id_of(route: Route) -> str | None:
    try:
        if route.kind == "tuya_state":
            return f"{tuya.DEVICE_ID_PREFIX}:{tuya.sanitize_dev_id(route.name)}"
        return zigbee2mqtt.device_id_for(route.name)
    except DecodeError:
        return None
