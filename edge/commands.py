"""Commands from the hub to devices: receive, hold, deliver, report.

The hub publishes one :class:`~device_adapters.model.DeviceCommand` JSON per command
on ``command_topic(gateway, device)`` at QoS 1. :class:`CommandRunner` subscribes to
``commands_subscription(gateway)`` with its own MQTT client (client id
``edge-<gateway>-commands``, persistent session, manual acknowledgement) and hands
each command to the server that speaks the device's protocol.

Routing comes from the installed adapters (device_adapters/commands.py): the adapter
whose command builder serves the command's kind and device id builds it, and the
server hosting that adapter here (edge/hosting.py) carries it, by the builder's
transport: a stream adapter's bytes are written to the device's TCP connection and
its answer frame awaited; a session adapter's call goes through the OCPP server; a
message adapter's message is published on the local broker and the device's next
fresh report awaited. The built-in adapters serve:

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
import json
import logging
import re
from collections import Counter, OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final
from uuid import UUID

from ocpp.exceptions import OCPPError  # type: ignore[import-untyped]
from pydantic import ValidationError

from chub_mqtt import Client, Message, MqttError, PubAck
from chub_mqtt.topics import availability_topic, command_result_topic, commands_subscription
from device_adapters.base import Adapter, MessageAdapter, SessionAdapter, StreamAdapter
from device_adapters.commands import (
    CommandRefused,
    MessageCommands,
    MessageFacts,
    SessionCommands,
    SessionFacts,
    StreamCommands,
    StreamFacts,
    Verdict,
)
from device_adapters.model import (
    CommandResult,
    CommandStatus,
    DeviceAvailability,
    DeviceCommand,
)
from device_adapters.registry import load_adapters
from edge.availability import AvailabilityTracker
from edge.hosting import server_name
from edge.mqtt_connection import upstream
from edge.mqtt_devices import LocalMqttDevices
from edge.ocpp_server import ChargePointNotConnected, OcppServer
from edge.settings import EdgeSettings
from edge.stream_server import StreamServer

log = logging.getLogger(__name__)

Outcome = tuple[CommandStatus, str]

_MAX_DETAIL: Final = 500  # CommandResult.detail max_length
_DONE_MEMORY: Final = 10_000  # command ids remembered to recognize redeliveries
_STOP_FLUSH_S: Final = 3.0
_DEVICE_ID_RE: Final = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")


class _Refused(Exception):
    """The command cannot run here: FAILED with this detail."""


class _Unreachable(Exception):
    """The device went away just before the hand-off: hold the command again."""


@dataclass(frozen=True)
class _StreamRoute:
    commands: StreamCommands
    server: StreamServer


@dataclass(frozen=True)
class _SessionRoute:
    commands: SessionCommands
    server: OcppServer


@dataclass(frozen=True)
class _MessageRoute:
    commands: MessageCommands
    server: LocalMqttDevices


_Route = _StreamRoute | _SessionRoute | _MessageRoute


@dataclass(frozen=True)
class _Builder:
    """An installed adapter that takes commands, and its route here if its server runs."""

    adapter: str
    server: str
    commands: StreamCommands | SessionCommands | MessageCommands
    route: _Route | None
    # The server runs here, whether or not it can carry the adapter's commands.
    running: bool


def _builders(adapters: Mapping[str, Adapter], servers: Mapping[str, object]) -> list[_Builder]:
    builders = []
    for name in sorted(adapters):
        adapter = adapters[name]
        if adapter.commands is None:
            continue
        hosting = server_name(adapter)
        server = servers.get(hosting)
        route: _Route | None = None
        if isinstance(adapter, StreamAdapter):
            if isinstance(server, StreamServer) and server.adapter.name == adapter.name:
                route = _StreamRoute(adapter.commands, server)
        elif isinstance(adapter, SessionAdapter):
            if isinstance(server, OcppServer):
                route = _SessionRoute(adapter.commands, server)
        elif isinstance(adapter, MessageAdapter) and isinstance(server, LocalMqttDevices):
            route = _MessageRoute(adapter.commands, server)
        builders.append(_Builder(name, hosting, adapter.commands, route, server is not None))
    return builders


@dataclass(frozen=True)
class _Delivery:
    """Where to acknowledge the MQTT message that brought a command."""

    mid: int
    qos: int
    connection: int


@dataclass
class _Held:
    command: DeviceCommand
    route: _Route
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

    ``servers`` is the gateway's name -> server map (edge/hosting.py names them);
    ``adapters`` the installed adapters (by default the registry's), whose command
    builders say which commands each server carries. With ``availability`` given, the
    runner delivers held commands as soon as the tracker reports their device online,
    publishes the tracker's reports and restores it from retained ones.
    """

    def __init__(
        self,
        settings: EdgeSettings,
        servers: Mapping[str, object],
        *,
        availability: AvailabilityTracker | None = None,
        adapters: Mapping[str, Adapter] | None = None,
        client_id: str | None = None,
        timeout_s: float | None = None,
        tick_s: float = 0.5,
    ) -> None:
        self._settings = settings
        self.gateway_id = settings.gateway_id
        self.client_id = client_id or f"edge-{settings.gateway_id}-commands"
        self.timeout_s = settings.edge_command_timeout_s if timeout_s is None else timeout_s
        self.tick_s = tick_s
        self._builders = _builders(load_adapters() if adapters is None else adapters, servers)
        self._availability = availability
        if availability is not None:
            availability.add_listener(self._on_availability)
        self.commands_topic = commands_subscription(self.gateway_id)
        self._availability_topics = availability_topic(self.gateway_id, "+")
        self._availability_prefix = availability_topic(self.gateway_id, "")
        self.stats = CommandStats()
        self._client: Client | None = None
        self._reader: asyncio.Task[None] | None = None
        self._held: dict[UUID, _Held] = {}
        self._queues: dict[str, deque[_Held]] = {}
        self._drainers: dict[str, asyncio.Task[None]] = {}
        self._done: OrderedDict[UUID, None] = OrderedDict()
        self._ticker: asyncio.Task[None] | None = None
        self._unsettled: deque[asyncio.Future[PubAck]] = deque(maxlen=1000)

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    async def start(self) -> None:
        """Start connecting in the background; succeeds even while the broker is down."""
        if self._client is not None:
            raise RuntimeError("command runner already started")
        s = self._settings
        # Availability at QoS 0: only its retained messages are read, once per connection.
        client = Client(
            upstream(s, self.client_id, protocol="3.1.1"),
            persistent=True,
            manual_ack=True,
            subscriptions=[(self.commands_topic, 1), (self._availability_topics, 0)],
            name=f"command runner {self.client_id}",
        )
        self._client = client
        await client.start()
        self._reader = asyncio.create_task(self._read(client), name="commands-read")
        self._ticker = asyncio.create_task(self._tick_forever(), name="commands-tick")
        if self._availability is not None:
            self._availability.set_publisher(self)
        log.info("command runner %s connecting to %s:%s", self.client_id, s.mqtt_host, s.mqtt_port)

    async def wait_connected(self) -> None:
        """Wait until connected and subscribed (wrap in asyncio.timeout)."""
        client = self._client
        if client is None:
            raise RuntimeError("command runner not started")
        await client.wait_connected()

    async def stop(self) -> None:
        """Stop running commands; held ones stay unacknowledged for the next start."""
        client = self._client
        if client is None:
            return
        tasks = [t for t in (self._reader, self._ticker, *self._drainers.values()) if t is not None]
        self._ticker = self._reader = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        held = len(self._held)
        self._held.clear()
        self._queues.clear()
        self._drainers.clear()
        await self._flush(_STOP_FLUSH_S)
        self._client = None
        await client.stop()
        log.info("command runner stopped (%d held command(s) left to the broker)", held)

    # -- publishing (also the availability tracker's publisher) ------------------------

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Hand a QoS 1 message to the client (sent now, or after reconnecting)."""
        client = self._client
        if client is None:
            log.warning("command runner not running: dropped a message for %s", topic)
            return
        try:
            ack = client.publish_nowait(topic, payload, qos=1, retain=retain)
        except MqttError as exc:
            log.warning("publish to %s refused: %s", topic, exc)
            return
        self._unsettled.append(ack)

    async def _flush(self, limit_s: float) -> None:
        """Wait (bounded) until the broker acknowledged what was published."""
        if not self.connected:
            return
        pending = [ack for ack in self._unsettled if not ack.done()]
        self._unsettled.clear()
        if pending:
            await asyncio.wait(pending, timeout=limit_s)

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

    # -- receiving (event loop) ---------------------------------------------------------

    async def _read(self, client: Client) -> None:
        async for message in client.messages:
            self._received(message)

    def _received(self, item: Message) -> None:
        if item.topic.startswith(self._availability_prefix):
            self._retained_availability(item)
            return
        try:
            self._take(item)
        except Exception:
            # Never lose the loop over one message; unacknowledged, it comes back later.
            log.exception("command on %s could not be handled", item.topic)

    def _retained_availability(self, item: Message) -> None:
        if not item.retain or self._availability is None:
            return
        try:
            report = DeviceAvailability.model_validate_json(item.payload)
        except ValidationError:
            log.warning("unreadable retained availability on %s", item.topic)
            return
        if self._availability.restore(report):
            log.info("restored %s as online until it reports or times out", report.device_id)

    def _take(self, item: Message) -> None:
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
            route = self._route(command)
        except _Refused as exc:
            self._settle_undelivered(command, delivery, CommandStatus.FAILED, str(exc))
            return
        if command.expires_at <= datetime.now(UTC):
            self._settle_undelivered(
                command, delivery, CommandStatus.EXPIRED, "expired before it reached the gateway"
            )
            return
        held = _Held(command, route, delivery)
        self._held[cid] = held
        self._queues.setdefault(command.device_id, deque()).append(held)
        self.stats.held += 1
        log.info("command %s (%s) for %s held", cid, command.kind, command.device_id)
        self._kick(command.device_id)

    def _invalid(
        self, item: Message, delivery: _Delivery, topic_device: str, exc: ValidationError
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

    def _route(self, command: DeviceCommand) -> _Route:
        """Where the command goes; raises _Refused when it cannot run here."""
        kind, device_id = command.kind, command.device_id
        serving = [b for b in self._builders if b.commands.serves_kind(kind)]
        if not serving:
            raise _Refused(f"unsupported command kind {kind}")
        builder = next((b for b in serving if b.commands.serves_device(device_id)), None)
        if builder is None:
            nouns = " or ".join(b.commands.device_noun for b in serving)
            raise _Refused(f"{kind} needs {nouns}, not {device_id}")
        if builder.route is None:
            server, adapter = builder.server, builder.adapter
            if builder.running:
                raise _Refused(f"the {server} server carries no commands (for {adapter})")
            raise _Refused(f"this gateway runs no {server} server (for {adapter})")
        try:
            builder.commands.check(command)
        except CommandRefused as exc:
            raise _Refused(str(exc)) from exc
        return builder.route

    # -- holding and delivering --------------------------------------------------------

    def pending(self, device_id: str) -> list[UUID]:
        """Ids of the commands held for ``device_id``, oldest first."""
        return [h.command.command_id for h in self._queues.get(device_id, ())]

    def reachable(self, route: _Route, device_id: str) -> bool:
        if isinstance(route, _SessionRoute):
            session_id = device_id[len(route.commands.device_prefix) :]
            return session_id in route.server.connected_charge_points
        if isinstance(route, _StreamRoute):
            return device_id in route.server.connected_devices
        locks = route.server
        return locks.connected and locks.availability.get(device_id) is not False

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
                if not self.reachable(held.route, device_id):
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
        route = held.route
        try:
            if isinstance(route, _SessionRoute):
                status, detail = await self._run_session(held, route)
            elif isinstance(route, _StreamRoute):
                status, detail = await self._run_stream(held, route)
            else:
                status, detail = await self._run_message(held, route)
        except _Unreachable:
            raise
        except (_Refused, CommandRefused) as exc:
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

    async def _run_session(self, held: _Held, route: _SessionRoute) -> Outcome:
        command, server = held.command, route.server
        cp_id = command.device_id[len(route.commands.device_prefix) :]
        facts = SessionFacts(
            now=datetime.now(UTC),
            transaction_on_port=lambda port: server.transaction_on_port(cp_id, port),
        )
        call = route.commands.build(command, facts)
        if cp_id not in server.connected_charge_points:
            raise _Unreachable
        self._handing_over(held)
        self._delivered(held)
        try:
            async with asyncio.timeout(self.timeout_s):
                answer = await server.call(cp_id, call.payload)
        except TimeoutError:
            return CommandStatus.TIMED_OUT, f"no answer within {self.timeout_s:g}s"
        except ChargePointNotConnected as exc:
            return CommandStatus.TIMED_OUT, f"charger disconnected before answering: {exc}"
        except OCPPError as exc:
            return CommandStatus.REJECTED, f"charger answered CallError {exc.code}: {exc}"
        status = str(getattr(answer, "status", ""))
        if status == call.accepted_status:
            return CommandStatus.ACCEPTED, f"charger answered {status}"
        return CommandStatus.REJECTED, f"charger answered {status or 'nothing'}"

    async def _run_stream(self, held: _Held, route: _StreamRoute) -> Outcome:
        command, server = held.command, route.server
        facts = StreamFacts(now=datetime.now(UTC), last_frame=server.last_frame(command.device_id))
        wire = route.commands.build(command, facts)
        answer = server.expect(command.device_id, wire.is_answer)
        try:
            self._handing_over(held)
            if not await server.send_to(command.device_id, wire.data):
                raise _Unreachable
            self._delivered(held)
            async with asyncio.timeout(self.timeout_s):
                reply = await answer
        except TimeoutError:
            return CommandStatus.TIMED_OUT, f"no answer within {self.timeout_s:g}s"
        except ConnectionError as exc:
            return CommandStatus.TIMED_OUT, f"device disconnected before answering: {exc}"
        finally:
            answer.cancel()
        return _outcome(wire.verdict(reply))

    async def _run_message(self, held: _Held, route: _MessageRoute) -> Outcome:
        command, locks = held.command, route.server
        # The local broker's devices are known by name only to the server that saw them.
        name = locks.friendly_name(command.device_id)
        if name is None:
            raise _Refused(f"no Zigbee2MQTT name known for {command.device_id}")
        facts = MessageFacts(now=datetime.now(UTC), base_topic=locks.z2m_base, device_name=name)
        wire = route.commands.build(command, facts)
        answer = locks.expect_event(command.device_id, wire.is_answer)
        try:
            self._handing_over(held)
            if not await locks.publish(wire.topic, wire.payload, timeout_s=self.timeout_s):
                return CommandStatus.TIMED_OUT, f"the local broker did not take it on {wire.topic}"
            self._delivered(held)
            async with asyncio.timeout(self.timeout_s):
                event = await answer
        except TimeoutError:
            return CommandStatus.TIMED_OUT, f"no {wire.awaiting} within {self.timeout_s:g}s"
        finally:
            answer.cancel()
        return _outcome(wire.verdict(event))

    # -- acknowledgements and housekeeping ---------------------------------------------

    def _acknowledge(self, held: _Held) -> None:
        if not held.acked:
            held.acked = True
            self._ack(held.delivery)

    def _ack(self, delivery: _Delivery) -> None:
        client = self._client
        if delivery.qos == 0 or client is None:
            return
        if not client.ack_packet(delivery.connection, delivery.mid, delivery.qos):
            # From an earlier connection: the packet id would name another message on
            # this one; the broker sends the command again, and its id says it is done.
            self.stats.stale_acks += 1

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


def _outcome(verdict: Verdict) -> Outcome:
    return (CommandStatus.ACCEPTED if verdict.accepted else CommandStatus.REJECTED), verdict.detail
