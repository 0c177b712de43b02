"""The hub's MQTT consumer: what the ingest worker reads, acknowledges and publishes.

Guarantees it gives the ingest worker:
- QoS 1 with persistent sessions (fixed client ids, hub/bridge/clients.py): what
  arrives while the hub is down waits in the broker.
- Manual acknowledgement: a message is PUBACKed only when the worker calls
  ``ack`` after the transaction holding it committed. Until then the broker
  keeps it and redelivers it after a reconnect.
- Alarms never wait behind telemetry: the alarm lane has a connection (and
  session) of its own, ``{hub_client_id}-alarms``, and alarms are handed out
  before anything else. On one shared connection an SOS arrived behind every
  telemetry message the broker had already queued for the hub (the SOS latency
  benchmark measured ~0.5 s at 5,000 events/s). Commands to devices and the
  gateways' confirmations leave on that connection too.
- Several hubs (``shared_group`` set): the bulk is read as MQTT shared
  subscriptions, alarms and retained state in full (hub/bridge/subscriptions.py,
  docs/scale-out.md).
- Bounded memory: when ``inbox_limit`` messages of the main connection wait for
  the worker, its client stops reading the socket until the worker has taken
  some; TCP pushes back and the rest waits in the broker.
- The main connection in a process of its own (``mqtt.receiver_process``, the
  default; hub/bridge/receiver.py): paho's Python parsing of every message no
  longer competes with the ingest worker for the hub's GIL. Its messages arrive
  through a pipe, and their acknowledgements go back the same way. The alarm
  connection stays here: an SOS takes no extra hop.

MQTT itself (the network thread, reconnects, the MQTT 5 -> 3.1.1 fallback) is
``chub_mqtt.Client``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import orjson

from chub_mqtt import Client, Message, MqttError
from chub_mqtt.topics import committed_topic, lane_of_topic
from device_adapters.model import Lane
from hub.bridge.clients import alarm_client, main_client, say_offline
from hub.bridge.receiver import ReceiverProcess, ReceiverState, Wire
from hub.bridge.subscriptions import Session
from hub.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["Incoming", "MqttBridge", "Session"]

# A receiver process's connection numbers are its own: the hub adds the
# process's generation above them, so an id from a replaced process never
# matches the current one (see ``ack``).
_GENERATION_SHIFT: Final = 32

# Ids per confirmation message (about 40 bytes each).
_CONFIRM_CHUNK: Final = 1000

_LANES: Final = {lane.value: lane for lane in Lane}


def _lane(topic: str) -> Lane | None:
    name = lane_of_topic(topic)
    return _LANES[name] if name is not None else None


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


def _incoming(message: Message, session: Session) -> Incoming:
    return Incoming(
        message.mid,
        message.qos,
        message.topic,
        message.payload,
        _lane(message.topic),
        message.dup,
        message.connection,
        session,
    )


class MqttBridge:
    def __init__(self, settings: Settings, inbox_limit: int | None = None) -> None:
        """The alarm connection runs here; the main one too, or in a receiver process
        with ``mqtt.receiver_process``."""
        self._settings = settings
        # Room for two full batches: one being stored, the next one filling.
        self._inbox_limit = inbox_limit or 2 * max(settings.ingest.batch_size, 1)
        self._alarms = alarm_client(settings.mqtt)
        self._main: Client | None = None
        self._receiver: ReceiverProcess | None = None
        if settings.mqtt.receiver_process:
            self._receiver = ReceiverProcess(
                settings, self._inbox_limit, self._from_receiver, self._receiver_state
            )
        else:
            self._main = main_client(settings.mqtt, self._inbox_limit)
        # The receiver's messages, waiting for the worker.
        self._from_child: deque[Incoming] = deque()
        self._child_wakeup = asyncio.Event()
        self._child_received = 0
        self._remote: ReceiverState | None = None  # the receiver's last report
        self._remote_connects_before = 0  # connects of the receiver processes before this one
        self._stale_acks_skipped = 0
        self._reading_paused = 0  # of receiver processes that have ended

    @property
    def received_on(self) -> dict[Session, int]:
        """By connection: the alarm lane and the rest (telemetry, state, results)."""
        main = self._main.received if self._main is not None else self._child_received
        return {"main": main, "alarms": self._alarms.received}

    @property
    def received(self) -> int:
        """Messages received on both connections."""
        return sum(self.received_on.values())

    def _main_connected(self) -> bool:
        if self._main is not None:
            return self._main.connected
        return self._remote is not None and self._remote.connected

    @property
    def connected(self) -> bool:
        return self._alarms.connected and self._main_connected()

    def _main_connects(self) -> int:
        if self._main is not None:
            return self._main.connects
        remote = self._remote.connects if self._remote else 0
        return self._remote_connects_before + remote

    @property
    def connects(self) -> int:
        """How often both connections have been up: the fewer of their connect counts."""
        return min(self._alarms.connects, self._main_connects())

    @property
    def reading_paused(self) -> int:
        """Times the main connection stopped reading because the inbox was full."""
        if self._main is not None:
            return self._main.reading_paused
        return self._reading_paused + (self._remote.reading_paused if self._remote else 0)

    @property
    def stale_acks_skipped(self) -> int:
        """Acknowledgements not sent: their message came on an earlier connection."""
        main = self._main.stale_acks_skipped if self._main is not None else 0
        remote = self._remote.stale_acks_skipped if self._remote else 0
        return self._stale_acks_skipped + self._alarms.stale_acks_skipped + main + remote

    @property
    def protocols(self) -> dict[Session, str]:
        """The MQTT version each connection speaks (5 unless the broker refused it)."""
        if self._main is not None:
            main = self._main.protocol
        else:
            main = self._remote.protocol if self._remote is not None else self._alarms.protocol
        return {"main": main, "alarms": self._alarms.protocol}

    async def start(self) -> None:
        # The hub starts even if the broker is not up yet: the clients keep retrying.
        await self._alarms.start()
        if self._main is not None:
            await self._main.start()
        if self._receiver is not None:
            self._receiver.start(asyncio.get_running_loop())

    async def wait_connected(self, within_s: float) -> bool:
        try:
            async with asyncio.timeout(within_s):
                await self._alarms.wait_connected()
                while not self._main_connected():
                    if self._main is not None:
                        await self._main.wait_connected()
                    else:
                        await asyncio.sleep(0.05)  # the receiver reports over its pipe
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        if self._main is not None:
            await say_offline(self._settings.mqtt, self._main)
        if self._receiver is not None:
            await self._receiver.stop()
        if self._main is not None:
            await self._main.stop()
        await self._alarms.stop()

    # -- reading -----------------------------------------------------------------------

    def pending(self) -> int:
        main = self._main.pending() if self._main is not None else len(self._from_child)
        return self._alarms.pending() + main

    def _take(self, limit: int) -> list[Incoming]:
        taken = [_incoming(m, "alarms") for m in self._alarms.take(limit)]
        # An alarm batch carries no telemetry: its transaction stays small, so the
        # alarm is committed (and its people told) without waiting for hundreds of
        # heartbeats to be stored with it.
        if taken:
            return taken
        if self._main is not None:
            return [_incoming(m, "main") for m in self._main.take(limit)]
        inbox = self._from_child
        taken = [inbox.popleft() for _ in range(min(limit, len(inbox)))]
        if not inbox:
            self._child_wakeup.clear()
        return taken

    async def _wait_message(self) -> None:
        if self.pending():
            return
        other = self._main.wait_message() if self._main is not None else self._child_wakeup.wait()
        waits = [asyncio.ensure_future(self._alarms.wait_message()), asyncio.ensure_future(other)]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def next_batch(self, max_items: int, max_wait_s: float) -> list[Incoming]:
        """Wait for messages; return up to ``max_items``, alarms first.

        Telemetry waits up to ``max_wait_s`` for the batch to fill; an alarm
        ends the wait at once.
        """
        await self._wait_message()
        loop = asyncio.get_running_loop()
        if max_wait_s > 0 and not self._alarms.pending() and self.pending() < max_items:
            deadline = loop.time() + max_wait_s
            while self.pending() < max_items and not self._alarms.pending():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                await asyncio.sleep(min(remaining, 0.002))
        return self._take(max_items)

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
            if item.session == "alarms":
                self._alarms.ack_packet(item.connection, item.mid, item.qos)
            elif self._main is not None:
                self._main.ack_packet(item.connection, item.mid, item.qos)
            elif self._receiver is not None:
                generation = item.connection >> _GENERATION_SHIFT
                if generation != self._receiver.generation:
                    self._stale_acks_skipped += 1  # its process is gone, and its connection
                    continue
                connection = item.connection - (generation << _GENERATION_SHIFT)
                remote.append((connection, item.mid, item.qos))
        if remote and self._receiver is not None:
            self._receiver.ack(remote)

    # -- publishing --------------------------------------------------------------------

    async def publish(self, topic: str, payload: bytes, timeout_s: float = 10.0) -> bool:
        """Publish at QoS 1; True once the broker acknowledged it.

        Commands leave on the alarm connection, which never waits for the ingest
        worker. Not connected: paho keeps the message and sends it on reconnect,
        but it is not confirmed, so the caller retries; receivers dedup by id.
        """
        connected = self._alarms.connected
        try:
            ack = self._alarms.publish_nowait(topic, payload, qos=1)
        except MqttError:
            return False
        if not connected:
            return False
        with contextlib.suppress(TimeoutError, MqttError):
            async with asyncio.timeout(timeout_s):
                await ack
                return True
        return False

    def confirm(self, gateway_id: str, ids: Sequence[str]) -> None:
        """Tell a gateway which of its items are committed, without waiting for the broker.

        On the alarm connection, like commands. A confirmation lost on the way (the
        hub dies first, the gateway is offline) only means the gateway sends those
        items again after a while, and the hub confirms the duplicates.
        """
        topic = committed_topic(gateway_id)
        for start in range(0, len(ids), _CONFIRM_CHUNK):
            payload = orjson.dumps({"ids": list(ids[start : start + _CONFIRM_CHUNK])})
            with contextlib.suppress(MqttError):
                self._alarms.publish_nowait(topic, payload, qos=1)

    # -- the receiver process's reports (in the event loop) ----------------------------

    def _from_receiver(self, generation: int, wire: Sequence[Wire]) -> None:
        base = generation << _GENERATION_SHIFT
        self._from_child.extend(
            Incoming(mid, qos, topic, payload, _lane(topic), dup, base + conn, "main")
            for mid, qos, topic, payload, dup, conn in wire
        )
        self._child_received += len(wire)
        self._child_wakeup.set()

    def _receiver_state(self, state: ReceiverState | None) -> None:
        """A report of the receiver process; None when the process has ended."""
        if state is None:
            if self._remote is not None:
                self._remote_connects_before += self._remote.connects
                self._stale_acks_skipped += self._remote.stale_acks_skipped
                self._reading_paused += self._remote.reading_paused
            self._remote = None
            return
        self._remote = state
