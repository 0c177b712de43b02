"""Commands from the hub to devices: receive, hold, deliver, report.

The hub publishes one :class:`~device_adapters.model.DeviceCommand` JSON per command
on ``command_topic(gateway, device)`` at QoS 1. :class:`CommandRunner` subscribes to
``commands_subscription(gateway)`` with its own paho client (client id
``edge-<gateway>-commands``, persistent session, manual acknowledgement) and hands
each command to the server that speaks the device's protocol:

- ``charger.*`` -> the OCPP server's ``call`` (RemoteStartTransaction,
  RemoteStopTransaction, ReserveNow, CancelReservation, UnlockConnector). ``Accepted``
  (``Unlocked`` for UnlockConnector) is ACCEPTED; any other answer is REJECTED with the
  charger's status in ``detail``; a CallError is REJECTED with its code.
- ``ebike.*`` -> the e-bike TCP server writes a start charging (0x02) or remote stop
  (0x0b) frame to the pile's connection, with a SESSION derived from the command id,
  and waits for the pile's answer with the same CMD and SESSION (DATA: port, result):
  result 0x00 (or no result byte) is ACCEPTED, anything else REJECTED.
- ``lock.*`` -> ``{"state": "UNLOCK"|"LOCK"}`` on ``<z2m base>/<name>/set`` on the
  local broker; ACCEPTED when the lock's next fresh report shows the requested
  ``lock_state`` (REJECTED on a ``lock.unlock_failed`` report for that action).

Results go back as :class:`~device_adapters.model.CommandResult` JSON at QoS 1 on
``command_result_topic(gateway, device)``: DELIVERED when the command is handed to the
device (written to its socket, sent as an OCPP call, published to its set topic), then
one final status. No answer within ``settings.edge_command_timeout_s`` is TIMED_OUT.
An invalid message is FAILED when its ``command_id`` can be read (else only logged); a
command this gateway cannot run (unsupported device or parameters, a server that is
not running here, another gateway's command) is FAILED.

Time to live. A command whose ``expires_at`` has passed when it arrives is EXPIRED. A
command for a device that is not reachable right now (no connection; a Zigbee lock the
bridge reports offline) is held and delivered as soon as the device (re)connects; when
its ``expires_at`` passes first it is EXPIRED. Commands for one device run one at a
time, in the order they arrived.

**Held commands survive a restart of the edge.** A command's MQTT message is
acknowledged only when the command leaves the runner's hands: just before it is handed
to the device, or when it gets a final status without reaching the device (EXPIRED,
FAILED). Until then the broker keeps it in the runner's persistent session and sends it
again after a reconnect or a restart, which then holds it again (a copy delivered twice
within one run is recognized by its ``command_id``). Acknowledging *before* the hand-off
makes delivery at most once: a crash between the two loses that one command (the hub
keeps it "sent" or "delivered"), but never replays an unlock or a charge start minutes
later. The price: every held command occupies one of the broker's in-flight slots for
this client (``max_inflight_messages``, 1000 in our mosquitto.conf); beyond that the
broker queues further commands until one is settled. A command that reached the device
but whose answer was still awaited when the edge stopped is reported TIMED_OUT.

The same client publishes the availability tracker's retained reports (it is the
tracker's publisher) and reads the retained ones back at connect, so that devices last
seen before a crash go offline by heartbeat timeout unless they come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal
from uuid import UUID

import paho.mqtt.client as mqtt
from ocpp.exceptions import OCPPError  # type: ignore[import-untyped]
from paho.mqtt.enums import MQTTErrorCode
from pydantic import ValidationError

from device_adapters import ebike, zigbee2mqtt
from device_adapters.model import (
    CommandResult,
    CommandStatus,
    DeviceAvailability,
    DeviceCommand,
    DeviceEvent,
    Scalar,
)
from device_adapters.ocpp16 import commands as ocpp_commands
from device_adapters.ocpp16.normalize import DEVICE_ID_PREFIX as OCPP_PREFIX
from edge.availability import AvailabilityTracker
from edge.mqtt_devices import LocalMqttDevices
from edge.ocpp_server import ChargePointNotConnected, OcppServer
from edge.settings import EdgeSettings
from edge.stream_server import StreamServer
from hub.bridge.paho_client import persistent_consumer
from hub.bridge.topics import availability_topic, command_result_topic, commands_subscription

log = logging.getLogger(__name__)

Target = Literal["ocpp", "ebike", "lock"]
Outcome = tuple[CommandStatus, str]

DEFAULT_RESERVATION_MINUTES: Final = 30
MAX_RESERVATION_MINUTES: Final = 24 * 60
_MAX_DETAIL: Final = 500  # CommandResult.detail max_length
_DONE_MEMORY: Final = 10_000  # command ids remembered to recognize redeliveries
_STOP_FLUSH_S: Final = 3.0
_SESSION_SPACE: Final = (1 << (8 * ebike.SESSION_BYTES)) - 1
_DEVICE_ID_RE: Final = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")
_EBIKE_PREFIX: Final = f"{ebike.PROTOCOL}:"
_Z2M_PREFIX: Final = f"{zigbee2mqtt.DEVICE_ID_PREFIX}:"
_OCPP_ACCEPTED: Final[dict[str, str]] = {
    "charger.remote_start": "Accepted",
    "charger.remote_stop": "Accepted",
    "charger.reserve": "Accepted",
    "charger.cancel_reservation": "Accepted",
    "charger.unlock_connector": "Unlocked",
}


class _Refused(Exception):
    """The command cannot run here: FAILED with this detail."""


class _Unreachable(Exception):
    """The device went away just before the hand-off: hold the command again."""


@dataclass(frozen=True)
class _Delivery:
    """Where to acknowledge the MQTT message that brought a command."""

    mid: int
    qos: int
    connection: int


@dataclass(frozen=True)
class _Incoming:
    mid: int
    qos: int
    topic: str
    payload: bytes
    retain: bool
    connection: int


@dataclass
class _Held:
    command: DeviceCommand
    target: Target
    delivery: _Delivery
    acked: bool = False
    delivered: bool = False


@dataclass
class CommandStats:
    """Counters since start; read by logs and tests."""

    received: int = 0
    invalid: int = 0
    redelivered: int = 0
    held: int = 0
    delivered: int = 0
    requeued: int = 0
    stale_acks: int = 0
    results: Counter[str] = field(default_factory=Counter)


class CommandRunner:
    """Runs the hub's commands on this gateway's devices (see the module docstring).

    ``servers`` is the gateway's name -> server map; the runner uses ``"ocpp"``,
    ``"ebike"`` and ``"local_mqtt"`` when present. With ``availability`` given, the
    runner delivers held commands as soon as the tracker reports their device online,
    publishes the tracker's reports and restores it from retained ones.
    """

    def __init__(
        self,
        settings: EdgeSettings,
        servers: Mapping[str, object],
        *,
        availability: AvailabilityTracker | None = None,
        client_id: str | None = None,
        timeout_s: float | None = None,
        tick_s: float = 0.5,
    ) -> None:
        self._settings = settings
        self.gateway_id = settings.gateway_id
        self.client_id = client_id or f"edge-{settings.gateway_id}-commands"
        self.timeout_s = settings.edge_command_timeout_s if timeout_s is None else timeout_s
        self.tick_s = tick_s
        ocpp, ebike_server, locks = (
            servers.get("ocpp"),
            servers.get("ebike"),
            servers.get("local_mqtt"),
        )
        self.ocpp = ocpp if isinstance(ocpp, OcppServer) else None
        self.ebike = ebike_server if isinstance(ebike_server, StreamServer) else None
        self.locks = locks if isinstance(locks, LocalMqttDevices) else None
        self._availability = availability
        if availability is not None:
            availability.add_listener(self._on_availability)
        self.commands_topic = commands_subscription(self.gateway_id)
        self._availability_topics = availability_topic(self.gateway_id, "+")
        self._availability_prefix = availability_topic(self.gateway_id, "")
        self.stats = CommandStats()
        self._client: mqtt.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = asyncio.Event()
        self._connection = 0  # incremented on paho's thread by each CONNACK
        self._subscribe_mid: int | None = None
        self._held: dict[UUID, _Held] = {}
        self._queues: dict[str, deque[_Held]] = {}
        self._drainers: dict[str, asyncio.Task[None]] = {}
        self._done: OrderedDict[UUID, None] = OrderedDict()
        self._ticker: asyncio.Task[None] | None = None
        self._publish_lock = threading.Lock()
        self._unsettled: deque[mqtt.MQTTMessageInfo] = deque(maxlen=1000)

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    async def start(self) -> None:
        """Start connecting in the background; succeeds even while the broker is down."""
        if self._client is not None:
            raise RuntimeError("command runner already started")
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        s = self._settings
        client = persistent_consumer(self.client_id, s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self._client = client
        client.connect_async(s.mqtt_host, s.mqtt_port, keepalive=s.mqtt_keepalive_s)
        client.loop_start()
        self._ticker = asyncio.create_task(self._tick_forever(), name="commands-tick")
        if self._availability is not None:
            self._availability.set_publisher(self)
        log.info("command runner %s connecting to %s:%s", self.client_id, s.mqtt_host, s.mqtt_port)

    async def wait_connected(self) -> None:
        """Wait until connected and subscribed (wrap in asyncio.timeout)."""
        await self._ready.wait()

    async def stop(self) -> None:
        """Stop running commands; held ones stay unacknowledged for the next start."""
        client = self._client
        if client is None:
            return
        tasks = [t for t in (self._ticker, *self._drainers.values()) if t is not None]
        self._ticker = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        held = len(self._held)
        self._held.clear()
        self._queues.clear()
        self._drainers.clear()
        await self._flush(_STOP_FLUSH_S)
        self._client = None
        client.disconnect()
        await asyncio.to_thread(client.loop_stop)
        self._ready.clear()
        log.info("command runner stopped (%d held command(s) left to the broker)", held)

    # -- publishing (also the availability tracker's publisher) ------------------------

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Hand a QoS 1 message to paho (sent now, or after reconnecting)."""
        client = self._client
        if client is None:
            log.warning("command runner not running: dropped a message for %s", topic)
            return
        info = client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            log.warning("publish to %s refused: %s", topic, mqtt.error_string(info.rc))
            return
        with self._publish_lock:
            self._unsettled.append(info)

    async def _flush(self, limit_s: float) -> None:
        """Wait (bounded) until the broker acknowledged what was published."""
        if not self.connected:
            return
        with self._publish_lock:
            pending = [info for info in self._unsettled if not _published(info)]
            self._unsettled.clear()

        def wait_all() -> None:
            deadline = time.monotonic() + limit_s
            for info in pending:
                with contextlib.suppress(RuntimeError, ValueError):
                    info.wait_for_publish(max(0.0, deadline - time.monotonic()))

        await asyncio.to_thread(wait_all)

    def _result(self, command_id: UUID, device_id: str, status: CommandStatus, detail: str) -> None:
        result = CommandResult(
            command_id=command_id,
            device_id=device_id,
            status=status,
            detail=detail[:_MAX_DETAIL],
            at=datetime.now(UTC),
        )
        self.stats.results[status.value] += 1
        log.info("command %s for %s: %s %s", command_id, device_id, status.value, detail)
        self.publish(
            command_result_topic(self.gateway_id, device_id), result.model_dump_json().encode()
        )

    # -- paho thread -------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.error("broker refused the command runner: %s", reason)
            return
        self._connection += 1
        sock = client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Availability at QoS 0: only its retained messages are read, once per connection.
        _, self._subscribe_mid = client.subscribe(
            [(self.commands_topic, 1), (self._availability_topics, 0)]
        )
        log.info("command runner connected (session resumed: %s)", bool(flags.session_present))

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, mid: int, reasons: Any, _p: Any) -> None:
        if mid != self._subscribe_mid:
            return
        refused = [r for r in reasons if r.is_failure]
        if refused:
            log.error("broker refused the command subscriptions: %s", refused)
        self._call_soon(self._ready.set)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._call_soon(self._ready.clear)
        if self._client is not None:
            log.warning("command runner lost the broker (%s); paho reconnects", reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        item = _Incoming(
            mid=msg.mid,
            qos=msg.qos,
            topic=msg.topic,
            payload=bytes(msg.payload),
            retain=bool(msg.retain),
            connection=self._connection,
        )
        self._call_soon(self._received, item)

    def _call_soon(self, callback: Callable[..., object], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        # A closed loop raises RuntimeError: the broker redelivers what was not acknowledged.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(callback, *args)

    # -- receiving (event loop) --------------------------------------------------------

    def _received(self, item: _Incoming) -> None:
        if item.topic.startswith(self._availability_prefix):
            self._retained_availability(item)
            return
        try:
            self._take(item)
        except Exception:
            # Never lose the loop over one message; unacknowledged, it comes back later.
            log.exception("command on %s could not be handled", item.topic)

    def _retained_availability(self, item: _Incoming) -> None:
        if not item.retain or self._availability is None:
            return
        try:
            report = DeviceAvailability.model_validate_json(item.payload)
        except ValidationError:
            log.warning("unreadable retained availability on %s", item.topic)
            return
        if self._availability.restore(report):
            log.info("restored %s as online until it reports or times out", report.device_id)

    def _take(self, item: _Incoming) -> None:
        self.stats.received += 1
        delivery = _Delivery(item.mid, item.qos, item.connection)
        topic_device = item.topic.rsplit("/", 1)[-1]
        try:
            command = DeviceCommand.model_validate_json(item.payload)
        except ValidationError as exc:
            self._invalid(item, delivery, topic_device, exc)
            return
        cid = command.command_id
        known = self._held.get(cid)
        if known is not None:
            # The broker sent it again (a reconnect): acknowledge on the new connection.
            self.stats.redelivered += 1
            known.delivery = delivery
            if known.acked:
                self._ack(delivery)
            return
        if cid in self._done:
            self.stats.redelivered += 1
            self._ack(delivery)
            return
        try:
            if command.gateway_id != self.gateway_id:
                raise _Refused(
                    f"command for gateway {command.gateway_id} reached gateway {self.gateway_id}"
                )
            if command.device_id != topic_device:
                raise _Refused(
                    f"command for {command.device_id} arrived on the topic of {topic_device}"
                )
            target = self._check(command)
        except _Refused as exc:
            self._settle_undelivered(command, delivery, CommandStatus.FAILED, str(exc))
            return
        if command.expires_at <= datetime.now(UTC):
            self._settle_undelivered(
                command, delivery, CommandStatus.EXPIRED, "expired before it reached the gateway"
            )
            return
        held = _Held(command, target, delivery)
        self._held[cid] = held
        self._queues.setdefault(command.device_id, deque()).append(held)
        self.stats.held += 1
        log.info("command %s (%s) for %s held", cid, command.kind, command.device_id)
        self._kick(command.device_id)

    def _invalid(
        self, item: _Incoming, delivery: _Delivery, topic_device: str, exc: ValidationError
    ) -> None:
        self.stats.invalid += 1
        errors = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}"
            for e in exc.errors()[:3]
        )
        command_id, device_id = _salvage(item.payload, topic_device)
        if command_id is None or device_id is None:
            log.warning("ignoring an unreadable command on %s: %s", item.topic, errors)
        else:
            log.warning("invalid command %s on %s: %s", command_id, item.topic, errors)
            self._result(command_id, device_id, CommandStatus.FAILED, f"invalid command: {errors}")
            self._remember_done(command_id)
        self._ack(delivery)

    def _settle_undelivered(
        self, command: DeviceCommand, delivery: _Delivery, status: CommandStatus, detail: str
    ) -> None:
        self._result(command.command_id, command.device_id, status, detail)
        self._remember_done(command.command_id)
        self._ack(delivery)

    def _check(self, command: DeviceCommand) -> Target:
        """Where the command goes; raises _Refused when it cannot run here."""
        kind, device_id, params = command.kind, command.device_id, command.params
        if kind.startswith("charger."):
            if not device_id.startswith(OCPP_PREFIX):
                raise _Refused(f"{kind} needs an OCPP charger (ocpp:...), not {device_id}")
            if self.ocpp is None:
                raise _Refused("this gateway runs no OCPP server")
            _ocpp_payload(kind, params, datetime.now(UTC), None)  # validates the params
            return "ocpp"
        if kind.startswith("ebike."):
            if not device_id.startswith(_EBIKE_PREFIX):
                raise _Refused(f"{kind} needs an e-bike pile (ebike:...), not {device_id}")
            if self.ebike is None:
                raise _Refused("this gateway runs no e-bike pile server")
            _ebike_frame(kind, params, bytes(ebike.SESSION_BYTES))
            return "ebike"
        if kind in ("lock.unlock", "lock.lock"):
            if not device_id.startswith(_Z2M_PREFIX) or device_id == _Z2M_PREFIX:
                raise _Refused(f"{kind} needs a Zigbee2MQTT lock (z2m:...), not {device_id}")
            if self.locks is None:
                raise _Refused("this gateway runs no local MQTT lock bridge")
            return "lock"
        raise _Refused(f"unsupported command kind {kind}")

    # -- holding and delivering --------------------------------------------------------

    def pending(self, device_id: str) -> list[UUID]:
        """Ids of the commands held for ``device_id``, oldest first."""
        return [h.command.command_id for h in self._queues.get(device_id, ())]

    def reachable(self, target: Target, device_id: str) -> bool:
        if target == "ocpp":
            return (
                self.ocpp is not None
                and device_id[len(OCPP_PREFIX) :] in self.ocpp.connected_charge_points
            )
        if target == "ebike":
            return self.ebike is not None and device_id in self.ebike.connected_devices
        return (
            self.locks is not None
            and self.locks.connected
            and self.locks.availability.get(device_id) is not False
        )

    def _on_availability(self, device_id: str, online: bool) -> None:
        if online:
            self._kick(device_id)

    def _kick(self, device_id: str) -> None:
        """Start delivering the device's held commands, unless that is under way."""
        if self._client is None or not self._queues.get(device_id):
            return
        running = self._drainers.get(device_id)
        if running is not None and not running.done():
            return
        self._drainers[device_id] = asyncio.create_task(
            self._drain(device_id), name=f"commands-{device_id}"
        )

    async def _drain(self, device_id: str) -> None:
        queue = self._queues.get(device_id)
        try:
            while queue:
                held = queue[0]
                if held.command.expires_at <= datetime.now(UTC):
                    queue.popleft()
                    self._expire(held)
                    continue
                if not self.reachable(held.target, device_id):
                    return
                queue.popleft()
                try:
                    await self._execute(held)
                except _Unreachable:
                    self.stats.requeued += 1
                    queue.appendleft(held)
                    return
        finally:
            if queue is not None and not queue and self._queues.get(device_id) is queue:
                del self._queues[device_id]
            if self._drainers.get(device_id) is asyncio.current_task():
                del self._drainers[device_id]

    def _expire(self, held: _Held) -> None:
        self._held.pop(held.command.command_id, None)
        self._result(
            held.command.command_id,
            held.command.device_id,
            CommandStatus.EXPIRED,
            "its time to live ran out before the device was reachable",
        )
        self._remember_done(held.command.command_id)
        self._acknowledge(held)

    async def _execute(self, held: _Held) -> None:
        command = held.command
        runner: dict[Target, Callable[[_Held], Awaitable[Outcome]]] = {
            "ocpp": self._run_ocpp,
            "ebike": self._run_ebike,
            "lock": self._run_lock,
        }
        try:
            status, detail = await runner[held.target](held)
        except _Unreachable:
            raise
        except _Refused as exc:
            status, detail = CommandStatus.FAILED, str(exc)
        except asyncio.CancelledError:
            if held.acked:
                self._finish(held, CommandStatus.TIMED_OUT, "gateway stopped before an answer")
            raise
        except Exception as exc:
            log.exception("command %s failed", command.command_id)
            status, detail = CommandStatus.FAILED, f"edge error: {type(exc).__name__}: {exc}"
        self._finish(held, status, detail)

    def _finish(self, held: _Held, status: CommandStatus, detail: str) -> None:
        self._held.pop(held.command.command_id, None)
        self._result(held.command.command_id, held.command.device_id, status, detail)
        self._remember_done(held.command.command_id)
        self._acknowledge(held)

    def _handing_over(self, held: _Held) -> None:
        """Just before the device gets it: from here the broker must not send it again."""
        self._acknowledge(held)

    def _delivered(self, held: _Held) -> None:
        held.delivered = True
        self.stats.delivered += 1
        self._result(held.command.command_id, held.command.device_id, CommandStatus.DELIVERED, "")

    # -- per protocol ------------------------------------------------------------------

    async def _run_ocpp(self, held: _Held) -> Outcome:
        assert self.ocpp is not None
        command = held.command
        cp_id = command.device_id[len(OCPP_PREFIX) :]
        server = self.ocpp
        payload = _ocpp_payload(
            command.kind,
            command.params,
            datetime.now(UTC),
            lambda port: server.transaction_on_port(cp_id, port),
        )
        if cp_id not in server.connected_charge_points:
            raise _Unreachable
        self._handing_over(held)
        self._delivered(held)
        try:
            async with asyncio.timeout(self.timeout_s):
                answer = await server.call(cp_id, payload)
        except TimeoutError:
            return CommandStatus.TIMED_OUT, f"no answer within {self.timeout_s:g}s"
        except ChargePointNotConnected as exc:
            return CommandStatus.TIMED_OUT, f"charger disconnected before answering: {exc}"
        except OCPPError as exc:
            return CommandStatus.REJECTED, f"charger answered CallError {exc.code}: {exc}"
        status = str(getattr(answer, "status", ""))
        if status == _OCPP_ACCEPTED[command.kind]:
            return CommandStatus.ACCEPTED, f"charger answered {status}"
        return CommandStatus.REJECTED, f"charger answered {status or 'nothing'}"

    async def _run_ebike(self, held: _Held) -> Outcome:
        assert self.ebike is not None
        command = held.command
        session = ebike.session_bytes(command.command_id.int % _SESSION_SPACE + 1)
        cmd, frame = _ebike_frame(command.kind, command.params, session)

        def is_answer(item: Any) -> bool:
            return (
                isinstance(item, ebike.EbikeFrame)
                and item.sop == ebike.PILE_SOP
                and item.cmd == cmd
                and item.session == session
            )

        answer = self.ebike.expect(command.device_id, is_answer)
        try:
            self._handing_over(held)
            if not await self.ebike.send_to(command.device_id, frame):
                raise _Unreachable
            self._delivered(held)
            async with asyncio.timeout(self.timeout_s):
                reply: ebike.EbikeFrame = await answer
        except TimeoutError:
            return CommandStatus.TIMED_OUT, f"no answer within {self.timeout_s:g}s"
        except ConnectionError as exc:
            return CommandStatus.TIMED_OUT, f"pile disconnected before answering: {exc}"
        finally:
            answer.cancel()
        if len(reply.data) < 2 or reply.data[1] == 0x00:
            return CommandStatus.ACCEPTED, f"pile answered port {reply.data[:1].hex()} ok"
        return CommandStatus.REJECTED, f"pile answered result 0x{reply.data[1]:02X}"

    async def _run_lock(self, held: _Held) -> Outcome:
        assert self.locks is not None
        command = held.command
        name = self.locks.friendly_name(command.device_id)
        if name is None:
            raise _Refused(f"no Zigbee2MQTT name known for {command.device_id}")
        unlock = command.kind == "lock.unlock"
        want = "unlocked" if unlock else "locked"
        attempted = "unlock" if unlock else "lock"

        def is_answer(event: DeviceEvent) -> bool:
            values = event.values
            if event.kind == "lock.unlock_failed":
                return values.get("attempted") == attempted
            if event.kind != "lock.state":
                return False
            lock_state = values.get("lock_state")
            if lock_state is not None:
                return lock_state == want
            return values.get("state") == ("UNLOCK" if unlock else "LOCK")

        topic = zigbee2mqtt.command_topic(self.locks.z2m_base, name)
        payload = zigbee2mqtt.set_command("UNLOCK" if unlock else "LOCK")
        answer = self.locks.expect_event(command.device_id, is_answer)
        try:
            self._handing_over(held)
            if not await self.locks.publish(topic, payload, timeout_s=self.timeout_s):
                return CommandStatus.TIMED_OUT, f"the local broker did not take it on {topic}"
            self._delivered(held)
            async with asyncio.timeout(self.timeout_s):
                event = await answer
        except TimeoutError:
            return CommandStatus.TIMED_OUT, f"no {want} report within {self.timeout_s:g}s"
        finally:
            answer.cancel()
        if event.kind == "lock.unlock_failed":
            return CommandStatus.REJECTED, f"lock reported {attempted} failure: " + str(
                event.values.get("reason", "unknown")
            )
        return CommandStatus.ACCEPTED, f"lock reported {want}"

    # -- acknowledgements and housekeeping ---------------------------------------------

    def _acknowledge(self, held: _Held) -> None:
        if not held.acked:
            held.acked = True
            self._ack(held.delivery)

    def _ack(self, delivery: _Delivery) -> None:
        client = self._client
        if delivery.qos == 0 or client is None:
            return
        if delivery.connection != self._connection:
            # The packet id would name another message on this connection; the broker
            # sends the command again, and its id says it is done.
            self.stats.stale_acks += 1
            return
        client.ack(delivery.mid, delivery.qos)

    def _remember_done(self, command_id: UUID) -> None:
        self._done[command_id] = None
        while len(self._done) > _DONE_MEMORY:
            self._done.popitem(last=False)

    async def _tick_forever(self) -> None:
        """Expire held commands on time, and retry devices nobody announced (a lock whose
        bridge came back, a broker reconnect)."""
        while True:
            await asyncio.sleep(self.tick_s)
            now = datetime.now(UTC)
            for device_id, queue in list(self._queues.items()):
                running = self._drainers.get(device_id)
                if running is not None and not running.done():
                    continue
                for held in [h for h in queue if h.command.expires_at <= now]:
                    queue.remove(held)
                    self._expire(held)
                if not queue:
                    del self._queues[device_id]
                    continue
                self._kick(device_id)


def _salvage(payload: bytes, topic_device: str) -> tuple[UUID | None, str | None]:
    """The command id and device id of an invalid command, if they can be read."""
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(doc, dict):
        return None, None
    try:
        command_id = UUID(str(doc.get("command_id")))
    except ValueError:
        return None, None
    for candidate in (doc.get("device_id"), topic_device):
        if isinstance(candidate, str) and _DEVICE_ID_RE.fullmatch(candidate):
            return command_id, candidate
    return command_id, None


def _int(params: Mapping[str, Scalar], name: str, *, default: int | None = None) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Refused(f"params.{name} must be an integer")
    return value


def _text(params: Mapping[str, Scalar], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str):
        raise _Refused(f"params.{name} must be a string")
    return value


def _ocpp_payload(
    kind: str,
    params: Mapping[str, Scalar],
    now: datetime,
    transaction_on_port: Callable[[int], int | None] | None,
) -> Any:
    """The OCPP call for a charger command; raises _Refused for bad parameters.

    ``charger.remote_stop`` by ``port`` needs the transaction running on that port,
    which only the OCPP server knows: with ``transaction_on_port`` None the parameters
    are only checked (and None is returned for it).
    """
    try:
        if kind == "charger.remote_start":
            port = _int(params, "port") if "port" in params else None
            return ocpp_commands.remote_start(port, _text(params, "id_tag"))
        if kind == "charger.remote_stop":
            if "transaction_id" in params:
                return ocpp_commands.remote_stop(_int(params, "transaction_id"))
            port = _int(params, "port")
            if transaction_on_port is None:
                return None
            transaction_id = transaction_on_port(port)
            if transaction_id is None:
                raise _Refused(f"no transaction known to this gateway on port {port}")
            return ocpp_commands.remote_stop(transaction_id)
        if kind == "charger.reserve":
            minutes = _int(params, "minutes", default=DEFAULT_RESERVATION_MINUTES)
            if not 1 <= minutes <= MAX_RESERVATION_MINUTES:
                raise _Refused(f"params.minutes must be 1..{MAX_RESERVATION_MINUTES}")
            return ocpp_commands.reserve_now(
                _int(params, "port"),
                now + timedelta(minutes=minutes),
                _text(params, "id_tag"),
                _int(params, "reservation_id"),
            )
        if kind == "charger.cancel_reservation":
            return ocpp_commands.cancel_reservation(_int(params, "reservation_id"))
        if kind == "charger.unlock_connector":
            return ocpp_commands.unlock_connector(_int(params, "port"))
    except ValueError as exc:
        raise _Refused(f"bad params: {exc}") from exc
    raise _Refused(f"unsupported command kind {kind}")


def _ebike_frame(kind: str, params: Mapping[str, Scalar], session: bytes) -> tuple[int, bytes]:
    """The pile command's CMD byte and frame; raises _Refused for bad parameters."""
    try:
        if kind == "ebike.start":
            frame = ebike.start_charging(session, _int(params, "port"), _int(params, "minutes"))
            return ebike.Command.START_CHARGING, frame
        if kind == "ebike.stop":
            return ebike.Command.REMOTE_STOP, ebike.remote_stop(session, _int(params, "port"))
    except ValueError as exc:
        raise _Refused(f"bad params: {exc}") from exc
    raise _Refused(f"unsupported command kind {kind}")


def _published(info: mqtt.MQTTMessageInfo) -> bool:
    """is_published() raises for a message queued while disconnected; that is 'not yet'."""
    try:
        return info.is_published()
    except (RuntimeError, ValueError):
        return False
