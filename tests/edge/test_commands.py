"""CommandRunner against a real Mosquitto and real peers: an ``ocpp`` charge point over a
WebSocket, a simulated e-bike pile over TCP, a Zigbee2MQTT-style lock on the broker.

The hub's side is an MQTT client that publishes DeviceCommand JSON on the command
topic and reads CommandResult JSON from the result topic, as the hub does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest_asyncio
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, RemoteStartStopStatus, ReservationStatus

from chub_mqtt.topics import command_topic
from community_hub_tools.sim.ebike_pile import SimulatedEbikePile
from community_hub_tools.sim.locks import SimulatedZ2mLock
from device_adapters import ebike
from device_adapters.model import (
    CommandResult,
    CommandStatus,
    DeadLetter,
    DeviceCommand,
    DeviceEvent,
    Scalar,
)
from edge.availability import AvailabilityTracker
from edge.commands import CommandRunner
from edge.mqtt_devices import LocalMqttDevices
from edge.ocpp_server import OcppServer
from edge.settings import EdgeSettings
from edge.stream_server import StreamServer
from tests.support.brokers import MosquittoProcess, MqttRecorder

GW = "gw-cmd-test"
RESULTS = f"chub/v1/edge/{GW}/command-results/+"


class RecordingUplink:
    def __init__(self) -> None:
        self.events: list[DeviceEvent] = []
        self.dead_letters: list[DeadLetter] = []

    async def publish_event(self, event: DeviceEvent) -> None:
        self.events.append(event)

    async def publish_dead_letter(self, dl: DeadLetter) -> None:
        self.dead_letters.append(dl)


async def wait_until(predicate: Callable[[], bool], within_s: float, what: str) -> None:
    step = 0.02
    for _ in range(int(within_s / step)):
        if predicate():
            return
        await asyncio.sleep(step)
    assert predicate(), f"not within {within_s}s: {what}"


def make_command(
    kind: str,
    device_id: str,
    params: dict[str, Scalar] | None = None,
    *,
    ttl_s: float = 30.0,
) -> DeviceCommand:
    now = datetime.now(UTC)
    return DeviceCommand(
        command_id=uuid4(),
        device_id=device_id,
        gateway_id=GW,
        kind=kind,  # type: ignore[arg-type]
        params=params or {},
        issued_at=now - timedelta(seconds=1),
        expires_at=now + timedelta(seconds=ttl_s),
    )


@dataclass
class Rig:
    broker: MosquittoProcess
    settings: EdgeSettings
    uplink: RecordingUplink
    tracker: AvailabilityTracker
    ocpp: OcppServer
    ebike: StreamServer
    locks: LocalMqttDevices
    runner: CommandRunner
    hub: MqttRecorder

    async def send(self, command: DeviceCommand | bytes, device_id: str | None = None) -> None:
        if isinstance(command, DeviceCommand):
            payload = command.model_dump_json().encode()
            device_id = command.device_id
        else:
            payload = command
        assert device_id is not None
        topic = command_topic(GW, device_id)
        await asyncio.to_thread(self.hub.publish_many, topic, [payload])

    def results(self, command_id: UUID) -> list[CommandResult]:
        out = []
        for message in list(self.hub.messages):
            result = CommandResult.model_validate_json(message.payload)
            if result.command_id == command_id:
                out.append(result)
        return out

    def statuses(self, command_id: UUID) -> list[CommandStatus]:
        return [r.status for r in self.results(command_id)]

    async def final(self, command_id: UUID, within_s: float = 10.0) -> CommandResult:
        finals = {
            CommandStatus.ACCEPTED,
            CommandStatus.REJECTED,
            CommandStatus.TIMED_OUT,
            CommandStatus.EXPIRED,
            CommandStatus.FAILED,
        }
        await wait_until(
            lambda: any(s in finals for s in self.statuses(command_id)),
            within_s,
            f"a final result for {command_id}",
        )
        return self.results(command_id)[-1]


def make_settings(broker: MosquittoProcess) -> EdgeSettings:
    return EdgeSettings(
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        gateway_id=GW,
        edge_host="127.0.0.1",
        edge_command_timeout_s=1.5,
    )


async def start_runner(rig_settings: EdgeSettings, servers: dict[str, object], tracker: Any) -> Any:
    runner = CommandRunner(rig_settings, servers, availability=tracker, tick_s=0.1)
    await runner.start()
    async with asyncio.timeout(10):
        await runner.wait_connected()
    return runner


@pytest_asyncio.fixture
async def rig(mosquitto: MosquittoProcess) -> AsyncIterator[Rig]:
    settings = make_settings(mosquitto)
    uplink = RecordingUplink()
    tracker = AvailabilityTracker(settings)
    ocpp = OcppServer(settings, uplink, host="127.0.0.1", port=0, availability=tracker)
    pile_server = StreamServer(
        ebike.ADAPTER, settings, uplink, host="127.0.0.1", port=0, availability=tracker
    )
    locks = LocalMqttDevices(settings, uplink, availability=tracker, stop_timeout_s=1.0)
    servers: dict[str, object] = {"ocpp": ocpp, "ebike": pile_server, "local_mqtt": locks}
    hub = MqttRecorder("test-hub")
    hub.connect(mosquitto.host, mosquitto.port)
    hub.subscribe(RESULTS)
    await tracker.start()
    runner = await start_runner(settings, servers, tracker)
    await ocpp.start()
    await pile_server.start()
    await locks.start()
    async with asyncio.timeout(10):
        await locks.wait_connected()
    rig = Rig(mosquitto, settings, uplink, tracker, ocpp, pile_server, locks, runner, hub)
    try:
        yield rig
    finally:
        for service in (locks, pile_server, ocpp, rig.runner, tracker):
            await service.stop()
        hub.close()


# -- peers ---------------------------------------------------------------------------


class TestCharger(ChargePoint):  # type: ignore[misc]
    """A charge point as the ``ocpp`` library's client; records the calls it got."""

    __test__ = False

    def __init__(self, cp_id: str, connection: Any, reserve_status: str) -> None:
        super().__init__(cp_id, connection, response_timeout=5)
        self.remote_starts: list[dict[str, Any]] = []
        self.reservations: list[dict[str, Any]] = []
        self.reserve_status = reserve_status

    @on(Action.remote_start_transaction)  # type: ignore[misc]
    async def on_remote_start(self, **payload: Any) -> Any:
        self.remote_starts.append(payload)
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

    @on(Action.reserve_now)  # type: ignore[misc]
    async def on_reserve_now(self, **payload: Any) -> Any:
        self.reservations.append(payload)
        return call_result.ReserveNow(status=self.reserve_status)


@asynccontextmanager
async def charger(
    rig: Rig, cp_id: str, *, reserve_status: str = ReservationStatus.accepted
) -> AsyncIterator[TestCharger]:
    url = f"ws://127.0.0.1:{rig.ocpp.port}/ocpp/{cp_id}"
    async with websockets.connect(url, subprotocols=["ocpp1.6"]) as ws:
        cp = TestCharger(cp_id, ws, reserve_status)
        reader = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


@asynccontextmanager
async def pile_online(rig: Rig, pile: SimulatedEbikePile) -> AsyncIterator[None]:
    """The pile's DTU connects, registers, reports its ports and answers what it gets."""
    reader, writer = await asyncio.open_connection("127.0.0.1", rig.ebike.port)
    writer.write(pile.registration() + pile.all_port_status())
    await writer.drain()

    async def answer() -> None:
        while data := await reader.read(1024):
            for frame in pile.receive(data):
                writer.write(frame)
            await writer.drain()

    task = asyncio.create_task(answer())
    try:
        await wait_until(
            lambda: f"ebike:{pile.pile_id}" in rig.ebike.connected_devices, 5, "pile identified"
        )
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


# -- OCPP ----------------------------------------------------------------------------


async def test_remote_start_reaches_a_real_charge_point_and_is_accepted(rig: Rig) -> None:
    async with charger(rig, "CP-1") as cp:
        await wait_until(lambda: "CP-1" in rig.ocpp.connected_charge_points, 5, "connected")
        command = make_command("charger.remote_start", "ocpp:CP-1", {"port": 2, "id_tag": "T42"})
        await rig.send(command)
        result = await rig.final(command.command_id)
    assert cp.remote_starts == [{"id_tag": "T42", "connector_id": 2}]
    assert rig.statuses(command.command_id) == [CommandStatus.DELIVERED, CommandStatus.ACCEPTED]
    assert result.device_id == "ocpp:CP-1"
    assert "Accepted" in result.detail


async def test_reserve_answered_occupied_is_rejected_with_the_chargers_status(rig: Rig) -> None:
    async with charger(rig, "CP-2", reserve_status=ReservationStatus.occupied) as cp:
        await wait_until(lambda: "CP-2" in rig.ocpp.connected_charge_points, 5, "connected")
        command = make_command(
            "charger.reserve", "ocpp:CP-2", {"port": 1, "id_tag": "T1", "reservation_id": 9}
        )
        await rig.send(command)
        result = await rig.final(command.command_id)
    assert result.status is CommandStatus.REJECTED
    assert "Occupied" in result.detail
    assert [r["reservation_id"] for r in cp.reservations] == [9]


async def test_command_for_a_charger_that_connects_later_is_delivered_then(rig: Rig) -> None:
    command = make_command("charger.remote_start", "ocpp:CP-LATE", {"port": 1, "id_tag": "T7"})
    await rig.send(command)
    await wait_until(
        lambda: rig.runner.pending("ocpp:CP-LATE") == [command.command_id], 5, "command held"
    )
    await asyncio.sleep(0.3)
    assert rig.results(command.command_id) == []  # held: nothing to report yet
    async with charger(rig, "CP-LATE") as cp:
        result = await rig.final(command.command_id)
    assert result.status is CommandStatus.ACCEPTED
    assert cp.remote_starts == [{"id_tag": "T7", "connector_id": 1}]
    assert rig.runner.pending("ocpp:CP-LATE") == []


async def test_a_command_past_its_expiry_on_arrival_is_expired_and_not_sent(rig: Rig) -> None:
    async with charger(rig, "CP-3") as cp:
        await wait_until(lambda: "CP-3" in rig.ocpp.connected_charge_points, 5, "connected")
        now = datetime.now(UTC)
        command = DeviceCommand(
            command_id=uuid4(),
            device_id="ocpp:CP-3",
            gateway_id=GW,
            kind="charger.remote_start",
            params={"port": 1, "id_tag": "T1"},
            issued_at=now - timedelta(minutes=10),
            expires_at=now - timedelta(minutes=5),
        )
        await rig.send(command)
        result = await rig.final(command.command_id)
        await asyncio.sleep(0.2)
    assert rig.statuses(command.command_id) == [CommandStatus.EXPIRED]
    assert "before it reached the gateway" in result.detail
    assert cp.remote_starts == []


async def test_a_held_command_expires_when_its_device_stays_away(rig: Rig) -> None:
    command = make_command(
        "charger.remote_start", "ocpp:CP-GONE", {"port": 1, "id_tag": "T1"}, ttl_s=0.8
    )
    await rig.send(command)
    result = await rig.final(command.command_id, within_s=5)
    assert rig.statuses(command.command_id) == [CommandStatus.EXPIRED]
    assert "time to live" in result.detail
    assert rig.runner.pending("ocpp:CP-GONE") == []
    # Coming back afterwards gets nothing.
    async with charger(rig, "CP-GONE") as cp:
        await wait_until(lambda: "CP-GONE" in rig.ocpp.connected_charge_points, 5, "connected")
        await asyncio.sleep(0.3)
    assert cp.remote_starts == []


async def test_a_held_command_survives_a_restart_of_the_runner(rig: Rig) -> None:
    """Held commands stay unacknowledged on the broker until handed to the device."""
    command = make_command("charger.remote_start", "ocpp:CP-R", {"port": 1, "id_tag": "T9"})
    await rig.send(command)
    await wait_until(lambda: rig.runner.pending("ocpp:CP-R") != [], 5, "command held")
    await rig.runner.stop()
    rig.runner = await start_runner(
        rig.settings, {"ocpp": rig.ocpp, "ebike": rig.ebike, "local_mqtt": rig.locks}, rig.tracker
    )
    await wait_until(lambda: rig.runner.pending("ocpp:CP-R") != [], 5, "held again after restart")
    async with charger(rig, "CP-R") as cp:
        result = await rig.final(command.command_id)
        await asyncio.sleep(0.3)
    assert result.status is CommandStatus.ACCEPTED
    assert len(cp.remote_starts) == 1
    assert rig.statuses(command.command_id) == [CommandStatus.DELIVERED, CommandStatus.ACCEPTED]


# -- e-bike piles --------------------------------------------------------------------


async def test_ebike_start_is_written_to_the_pile_and_its_answer_decides(rig: Rig) -> None:
    pile = SimulatedEbikePile("PILE-0042", ports=4, rng=random.Random(3))
    idle = next(p.number for p in pile.ports if not p.charging)
    busy = next(p.number for p in pile.ports if p.charging)
    async with pile_online(rig, pile):
        start = make_command("ebike.start", "ebike:PILE-0042", {"port": idle, "minutes": 90})
        await rig.send(start)
        accepted = await rig.final(start.command_id)
        refused = make_command("ebike.start", "ebike:PILE-0042", {"port": busy, "minutes": 5})
        await rig.send(refused)
        rejected = await rig.final(refused.command_id)
    assert rig.statuses(start.command_id) == [CommandStatus.DELIVERED, CommandStatus.ACCEPTED]
    assert accepted.status is CommandStatus.ACCEPTED
    assert pile.port(idle).charging and pile.port(idle).remaining_min == 90
    got = pile.commands_received[0]
    assert (got.cmd, got.data) == (ebike.Command.START_CHARGING, bytes([idle, 0, 90]))
    assert rejected.status is CommandStatus.REJECTED
    assert "0x01" in rejected.detail


async def test_ebike_stop_for_a_pile_that_connects_later(rig: Rig) -> None:
    pile = SimulatedEbikePile("PILE-0043", ports=4, rng=random.Random(5))
    busy = next(p.number for p in pile.ports if p.charging)
    command = make_command("ebike.stop", "ebike:PILE-0043", {"port": busy})
    await rig.send(command)
    await wait_until(lambda: rig.runner.pending("ebike:PILE-0043") != [], 5, "command held")
    async with pile_online(rig, pile):
        result = await rig.final(command.command_id)
    assert result.status is CommandStatus.ACCEPTED
    assert not pile.port(busy).charging


# -- Zigbee2MQTT locks ---------------------------------------------------------------


async def test_lock_unlock_is_published_to_z2m_and_accepted_on_the_state_report(
    rig: Rig,
) -> None:
    lock = SimulatedZ2mLock("front_door")
    bridge = MqttRecorder("test-z2m-bridge")
    bridge.connect(rig.broker.host, rig.broker.port)
    try:
        bridge.subscribe("zigbee2mqtt/+/set")
        await asyncio.to_thread(bridge.publish_many, *_one(lock.availability(True)))
        await wait_until(lambda: rig.tracker.is_online("z2m:front_door") is True, 5, "lock online")
        command = make_command("lock.unlock", "z2m:front_door")
        await rig.send(command)
        await wait_until(lambda: bool(bridge.payloads()), 5, "set command on the bridge")
        assert [m.topic for m in bridge.messages] == ["zigbee2mqtt/front_door/set"]
        assert json.loads(bridge.payloads()[0]) == {"state": "UNLOCK"}
        await wait_until(
            lambda: CommandStatus.DELIVERED in rig.statuses(command.command_id), 5, "delivered"
        )
        # The lock unlocks and Zigbee2MQTT publishes its new state.
        await asyncio.to_thread(bridge.publish_many, *_one(lock.unlock(source="rf")))
        result = await rig.final(command.command_id)
    finally:
        bridge.close()
    assert result.status is CommandStatus.ACCEPTED
    assert rig.statuses(command.command_id) == [CommandStatus.DELIVERED, CommandStatus.ACCEPTED]


async def test_lock_command_without_a_state_report_times_out(rig: Rig) -> None:
    command = make_command("lock.lock", "z2m:back_door")
    await rig.send(command)
    result = await rig.final(command.command_id, within_s=8)
    assert rig.statuses(command.command_id) == [CommandStatus.DELIVERED, CommandStatus.TIMED_OUT]
    assert "locked" in result.detail


# -- what cannot run -----------------------------------------------------------------


async def test_invalid_and_unsupported_commands_fail_without_stopping_the_runner(
    rig: Rig,
) -> None:
    bad_id = uuid4()
    bad = {
        "command_id": str(bad_id),
        "device_id": "ocpp:CP-1",
        "gateway_id": GW,
        "kind": "charger.self_destruct",
    }
    await rig.send(json.dumps(bad).encode(), "ocpp:CP-1")
    await rig.send(b"not even json", "ocpp:CP-1")
    tuya = make_command("lock.unlock", "tuya:abc123")
    await rig.send(tuya)
    no_tag = make_command("charger.remote_start", "ocpp:CP-1", {"port": 1})
    await rig.send(no_tag)
    failed = await rig.final(bad_id)
    assert failed.status is CommandStatus.FAILED
    assert failed.detail.startswith("invalid command")
    assert (await rig.final(tuya.command_id)).status is CommandStatus.FAILED
    assert "id_tag" in (await rig.final(no_tag.command_id)).detail
    assert rig.runner.stats.invalid == 2
    assert len(rig.hub.messages) == 3  # the unreadable one gets no result


def _one(message: tuple[str, bytes]) -> tuple[str, list[bytes]]:
    topic, payload = message
    return topic, [payload]
