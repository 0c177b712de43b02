"""The edge's MQTT uplink, on :class:`chub_mqtt.Client`.

Every event and dead letter goes out at QoS 1, and ``publish_*`` returns only
once the broker's PUBACK arrived: the watch server answers a device only after
that, so an acknowledged alarm is on the broker. While the broker is down the
client keeps the messages and sends them again on reconnect; the awaiting coroutine
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
that check (the client's one fallback).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final, Protocol

import orjson

from chub_mqtt import Client, Message, MqttError, PubAck, Will
from chub_mqtt.topics import (
    committed_topic,
    dead_letter_topic,
    event_topic,
    gateway_outbox_topic,
    gateway_status_topic,
    hub_status_subscription,
)
from device_adapters.model import DeadLetter, DeviceEvent, OutboxReport
from edge.mqtt_connection import upstream
from edge.settings import EdgeSettings

log = logging.getLogger(__name__)

ONLINE = b"online"
OFFLINE = b"offline"

# Room in paho's queue beyond the tracked publishes, for the untracked retained
# "online" status published on each reconnect.
_STATUS_HEADROOM = 16
# How long stop() waits for the broker to acknowledge the "offline" status.
_STOP_ACK_TIMEOUT_S = 5.0
# Most ids one confirmation may carry, and the longest id (a UUID has 36 characters).
_MAX_CONFIRM_IDS: Final = 10_000
_MAX_ID_LENGTH: Final = 64


class UplinkError(Exception):
    """A publish could not be handed to the broker."""


class UplinkTimeout(UplinkError):
    """The broker did not acknowledge a publish in time; it may still be delivered later."""


class UplinkNotDelivered(UplinkError):
    """The broker acknowledged a publish without keeping it: no subscriber, or refused."""


class EventPublisher(Protocol):
    """What the device-facing servers need from an uplink (tests may pass a fake)."""

    async def publish_event(self, event: DeviceEvent) -> None: ...

    async def publish_dead_letter(self, dl: DeadLetter) -> None: ...


class MqttUplink:
    """Publishes to the broker at QoS 1 and awaits the PUBACK of each message.

    A clean session on every connection: the client itself resends what is not
    acknowledged yet. ``_slots`` bounds the messages the client holds (paho's mids
    wrap at 65535, and more outstanding than its queue allows is refused): a slot
    is taken per publish and given back when the broker acknowledges the message,
    not when its publisher stops waiting (a timed-out message is still sent).
    """

    def __init__(self, settings: EdgeSettings) -> None:
        self._settings = settings
        self.gateway_id = settings.gateway_id
        self.status_topic = gateway_status_topic(self.gateway_id)
        self._client: Client | None = None
        self._reader: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(settings.edge_max_in_flight)
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
        return self._client is not None and self._client.connected

    async def start(self) -> None:
        """Start connecting in the background; succeeds even while the broker is down."""
        if self._client is not None:
            raise RuntimeError("uplink already started")
        s = self._settings
        # Fresh slots: a previous run may have left some held by unacknowledged messages.
        self._slots = asyncio.Semaphore(s.edge_max_in_flight)
        listening = self._on_committed is not None
        # A clean session: subscribe on every connect. Confirmations sent while the
        # gateway was away are lost; the outbox sends those items again, and the hub
        # confirms the duplicates.
        subscriptions = (
            [(committed_topic(self.gateway_id), 1), (hub_status_subscription(), 1)]
            if listening
            else []
        )
        client = Client(
            upstream(s, f"edge-{self.gateway_id}"),
            subscriptions=subscriptions,
            will=Will(self.status_topic, OFFLINE),
            birth=Will(self.status_topic, ONLINE),
            max_inflight=s.edge_max_in_flight,
            max_queued=s.edge_max_in_flight + _STATUS_HEADROOM,
            name=f"uplink {self.gateway_id}",
        )
        self._client = client
        await client.start()
        if listening:
            self._reader = asyncio.create_task(self._read(client), name="uplink-confirmations")
        log.info("uplink %s connecting to %s:%s", self.gateway_id, s.mqtt_host, s.mqtt_port)

    async def wait_connected(self) -> None:
        """Wait until the broker accepted the connection (wrap in asyncio.timeout)."""
        client = self._client
        if client is None:
            raise UplinkError("uplink not started")
        await client.wait_connected()

    async def stop(self) -> None:
        """Publish the retained "offline" status, disconnect cleanly."""
        client = self._client
        if client is None:
            return
        if client.connected:
            try:
                await self._publish(
                    self.status_topic,
                    OFFLINE,
                    retain=True,
                    limit_s=min(self._settings.edge_publish_timeout_s, _STOP_ACK_TIMEOUT_S),
                )
            except UplinkError as exc:
                log.warning("uplink %s: offline status not acknowledged: %s", self.gateway_id, exc)
        # A clean DISCONNECT tells the broker not to publish the will; the retained
        # "offline" above already says the same. What still waits for a PUBACK fails.
        await client.stop()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        self._client = None
        log.info("uplink %s stopped", self.gateway_id)

    # -- publishing ------------------------------------------------------------------

    async def publish_event(self, event: DeviceEvent) -> None:
        topic = event_topic(self.gateway_id, event.lane, event.device_id)
        await self._publish(topic, event.model_dump_json().encode())

    async def publish_dead_letter(self, dl: DeadLetter) -> None:
        await self._publish(dead_letter_topic(self.gateway_id), dl.model_dump_json().encode())

    async def publish_outbox_report(self, report: OutboxReport) -> None:
        """Retained: a hub that starts later reads the latest at once."""
        payload = report.model_dump_json().encode()
        await self._publish(gateway_outbox_topic(self.gateway_id), payload, retain=True)

    async def _publish(
        self, topic: str, payload: bytes, *, retain: bool = False, limit_s: float | None = None
    ) -> None:
        client = self._client
        if client is None:
            raise UplinkError("uplink not started")
        loop = asyncio.get_running_loop()
        limit = self._settings.edge_publish_timeout_s if limit_s is None else limit_s
        # One deadline for waiting for a slot and for the PUBACK together.
        deadline = loop.time() + limit
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError:
            raise UplinkTimeout(f"no in-flight slot within {limit:g}s for {topic}") from None
        # From here the slot belongs to the message and is given back when the broker
        # acknowledges it (or the client gives it up), not when this coroutine ends.
        try:
            ack = client.publish_nowait(topic, payload, qos=1, retain=retain)
        except BaseException:
            self._slots.release()
            raise
        try:
            async with asyncio.timeout_at(deadline):
                reason = await asyncio.shield(ack)
        except MqttError as exc:
            self._slots.release()
            raise UplinkError(str(exc)) from exc
        except BaseException as exc:  # timed out or cancelled: the message is still sent
            self._give_back_when_settled(ack)
            if isinstance(exc, TimeoutError):
                raise UplinkTimeout(f"no PUBACK within {limit:g}s for {topic}") from None
            raise
        self._slots.release()
        _check_delivered(topic, reason, retain=retain)

    def _give_back_when_settled(self, ack: asyncio.Future[PubAck]) -> None:
        if ack.done():
            self._slots.release()
        else:
            ack.add_done_callback(lambda _: self._slots.release())

    # -- the hub's confirmations and status ----------------------------------------------

    async def _read(self, client: Client) -> None:
        async for message in client.messages:
            self._on_message(message)

    def _on_message(self, message: Message) -> None:
        """Only the hub account may write these (docs/trust.md), but a malformed
        confirmation is still counted and skipped."""
        topic = message.topic
        if topic == committed_topic(self.gateway_id):
            ids = _confirmed_ids(message.payload)
            if ids is None:
                self.bad_confirmations += 1
                log.warning("uplink %s: unreadable confirmation skipped", self.gateway_id)
            elif self._on_committed is not None:
                self._on_committed(ids)
        elif topic.endswith("/status") and self._on_hub_status is not None:
            hub_id = topic.split("/")[-2]
            self._on_hub_status(hub_id, message.payload == ONLINE)


def _check_delivered(topic: str, reason: PubAck, *, retain: bool) -> None:
    """Raise unless the PUBACK's reason code says the broker kept the message."""
    if reason.is_failure:
        raise UplinkNotDelivered(f"broker refused {topic}: {reason.reason}")
    if reason.no_matching_subscribers and not retain:
        # Dropped by the broker: nobody (the hub, above all) has subscribed yet.
        raise UplinkNotDelivered(
            f"broker dropped {topic} ({reason.reason}):"
            " the hub has not subscribed on this broker yet"
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
