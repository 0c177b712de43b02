"""OcppServer over a real WebSocket, with a real ``ocpp`` charge point client.

Most tests use a recording fake uplink; one publishes through MqttUplink to a
real Mosquitto and reads the events back from the broker.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
import pytest_asyncio
import websockets
from ocpp.exceptions import InternalError, NotImplementedError
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, RegistrationStatus, RemoteStartStopStatus
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chub_mqtt.topics import event_topic
from community_hub_tools.sim.ocpp_charger import run_charge_point
from device_adapters.model import DeadLetter, DeviceEvent, Lane
from device_adapters.ocpp16 import commands
from edge.ocpp_server import ChargePointNotConnected, OcppServer
from edge.settings import EdgeSettings
from edge.uplink import MqttUplink, UplinkError
from tests.support.brokers import MosquittoProcess, MqttRecorder, free_port

GW = "gw-ocpp-test"


class RecordingUplink:
    """An EventPublisher that records what it was given; can be told to fail or dawdle."""

    def __init__(self) -> None:
        self.events: list[DeviceEvent] = []
        self.dead_letters: list[DeadLetter] = []
        self.fail = False
        self.delay_s = 0.0

    async def publish_event(self, event: DeviceEvent) -> None:
        await asyncio.sleep(self.delay_s)
        if self.fail:
            raise UplinkError("broker unreachable (test)")
        self.events.append(event)

    async def publish_dead_letter(self, dl: DeadLetter) -> None:
        if self.fail:
            raise UplinkError("broker unreachable (test)")
        self.dead_letters.append(dl)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def of_kind(self, kind: str) -> list[DeviceEvent]:
        return [e for e in self.events if e.kind == kind]


class ClientChargePoint(ChargePoint):  # type: ignore[misc]
    """A charger as the ocpp library's client side; records what it sent."""

    def __init__(self, cp_id: str, connection: ClientConnection) -> None:
        super().__init__(cp_id, connection, response_timeout=5)
        self.sent: list[str] = []
        self.remote_starts: list[dict[str, Any]] = []

    async def _send(self, message: str) -> None:
        self.sent.append(message)
        await super()._send(message)

    def last_call_bytes(self) -> bytes:
        return next(m for m in reversed(self.sent) if m.startswith("[2,")).encode()

    @on(Action.remote_start_transaction)  # type: ignore[misc]
    async def on_remote_start(self, **payload: Any) -> Any:
        self.remote_starts.append(payload)
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)


def make_settings(**overrides: object) -> EdgeSettings:
    values: dict[str, object] = {"gateway_id": GW, "edge_host": "127.0.0.1"}
    values.update(overrides)
    return EdgeSettings(**values)  # type: ignore[arg-type]


async def wait_until(predicate: Callable[[], bool], within_s: float, what: str) -> None:
    step = 0.02
    for _ in range(int(within_s / step)):
        if predicate():
            return
        await asyncio.sleep(step)
    assert predicate(), f"not within {within_s}s: {what}"


@pytest.fixture
def uplink() -> RecordingUplink:
    return RecordingUplink()


@pytest_asyncio.fixture
async def server(uplink: RecordingUplink) -> AsyncIterator[OcppServer]:
    srv = OcppServer(make_settings(), uplink, host="127.0.0.1", port=0, first_transaction_id=100)
    await srv.start()
    assert srv.port != 0
    try:
        yield srv
    finally:
        await srv.stop()


def url(server: OcppServer, cp_id: str = "CP1", prefix: str = "/ocpp/") -> str:
    return f"ws://127.0.0.1:{server.port}{prefix}{cp_id}"


@asynccontextmanager
async def charger(
    server: OcppServer, cp_id: str = "CP1", prefix: str = "/ocpp/"
) -> AsyncIterator[ClientChargePoint]:
    async with websockets.connect(url(server, cp_id, prefix), subprotocols=["ocpp1.6"]) as ws:
        assert ws.subprotocol == "ocpp1.6"
        cp = ClientChargePoint(cp_id, ws)
        reader = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


@asynccontextmanager
async def raw_client(server: OcppServer, cp_id: str = "RAW1") -> AsyncIterator[ClientConnection]:
    async with websockets.connect(url(server, cp_id), subprotocols=["ocpp1.6"]) as ws:
        yield ws


async def exchange(ws: ClientConnection, text: str) -> list[Any]:
    await ws.send(text)
    async with asyncio.timeout(5):
        answer = json.loads(await ws.recv())
    assert isinstance(answer, list)
    return answer


def status(connector: int, state: str, error_code: str = "NoError", **extra: Any) -> Any:
    return call.StatusNotification(
        connector_id=connector, error_code=error_code, status=state, **extra
    )


# -- requests become events before they are answered ----------------------------------------


async def test_boot_is_accepted_after_its_event_is_published(
    server: OcppServer, uplink: RecordingUplink
) -> None:
    uplink.delay_s = 0.2  # a slow broker: the answer must still wait for it
    async with charger(server, "ALF-1", prefix="/") as cp:
        answer = await cp.call(
            call.BootNotification(
                charge_point_vendor="Alfen BV",
                charge_point_model="ICU Eve Mini",
                firmware_version="#1:3.4.0-2990#N:217H;1.0-223",
            )
        )
        # Checked at once: published before the CallResult was sent.
        [boot] = uplink.events
        assert answer.status == RegistrationStatus.accepted
        assert answer.interval == 300
        sent_at = datetime.fromisoformat(answer.current_time)
        assert abs((datetime.now(UTC) - sent_at).total_seconds()) < 5
        assert boot.kind == "charger.boot"
        assert boot.device_id == "ocpp:ALF-1"
        assert boot.gateway_id == GW
        assert boot.values["vendor"] == "Alfen BV"
        assert boot.values["firmware_version"] == "#1:3.4.0-2990#N:217H;1.0-223"
        assert boot.raw == cp.last_call_bytes()  # the message exactly as the charger sent it
        assert server.connected_charge_points == {"ALF-1"}
    await wait_until(lambda: not server.connected_charge_points, 5, "disconnect noticed")
    assert server.stats.connections_total == 1
    assert server.stats.connections_open == 0


async def test_heartbeat_and_status_become_events_with_availability(
    server: OcppServer, uplink: RecordingUplink
) -> None:
    async with charger(server) as cp:
        beat = await cp.call(call.Heartbeat())
        assert datetime.fromisoformat(beat.current_time).tzinfo is not None
        await cp.call(status(0, "Available"))
        await cp.call(status(2, "SuspendedEV", timestamp="2024-05-01T08:00:00Z"))
        await cp.call(status(1, "Unavailable"))
    assert uplink.kinds() == ["charger.heartbeat"] + ["charger.port_status"] * 3
    ports = uplink.of_kind("charger.port_status")
    assert [(e.values["port"], e.values["availability"]) for e in ports] == [
        (0, "available"),
        (2, "charging"),
        (1, "out_of_order"),
    ]
    assert ports[1].device_time == datetime(2024, 5, 1, 8, tzinfo=UTC)
    assert not uplink.dead_letters


async def test_fault_status_is_published_on_the_alarm_lane_first(
    server: OcppServer, uplink: RecordingUplink
) -> None:
    async with charger(server) as cp:
        await cp.call(status(1, "Faulted", "HighTemperature", vendor_error_code="E12"))
    # Alarms are handed to the uplink before telemetry.
    assert uplink.kinds() == ["charger.fault", "charger.port_status"]
    fault = uplink.events[0]
    assert fault.lane is Lane.ALARM
    assert fault.values["error_code"] == "HighTemperature"
    assert fault.values["vendor_error_code"] == "E12"
    assert fault.values["availability"] == "out_of_order"


async def test_transaction_start_meter_stop(server: OcppServer, uplink: RecordingUplink) -> None:
    async with charger(server) as cp:
        auth = await cp.call(call.Authorize(id_tag="04A1B2C3"))
        assert auth.id_tag_info["status"] == "Accepted"
        started = await cp.call(
            call.StartTransaction(
                connector_id=2,
                id_tag="04A1B2C3",
                meter_start=1000,
                timestamp="2024-05-01T08:00:00Z",
            )
        )
        assert started.id_tag_info["status"] == "Accepted"
        tx = started.transaction_id
        assert tx == 100
        await cp.call(
            call.MeterValues(
                connector_id=2,
                transaction_id=tx,
                meter_value=[
                    {
                        "timestamp": "2024-05-01T08:01:00Z",
                        "sampledValue": [
                            {"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"},
                            {"value": "1.123", "unit": "kWh"},
                        ],
                    }
                ],
            )
        )
        await cp.call(
            call.StopTransaction(
                meter_stop=1500,
                timestamp="2024-05-01T08:05:00Z",
                transaction_id=tx,
                reason="EVDisconnected",
            )
        )
        again = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="X", meter_start=0, timestamp="2024-05-01T09:00:00Z"
            )
        )
        assert again.transaction_id > tx  # increasing
    started_ev, meter_ev, stopped_ev, _ = uplink.events
    assert started_ev.kind == "charger.session_started"
    assert started_ev.values == {
        "port": 2,
        "id_tag": "04A1B2C3",
        "meter_start_wh": 1000,
        "transaction_id": tx,
    }
    assert meter_ev.kind == "charger.meter"
    assert meter_ev.values["power_w"] == 7400.0
    assert meter_ev.values["energy_wh"] == pytest.approx(1123.0)
    assert meter_ev.values["transaction_id"] == tx
    assert stopped_ev.kind == "charger.session_stopped"
    # The port is remembered from the start: StopTransaction does not carry it.
    assert stopped_ev.values == {
        "port": 2,
        "transaction_id": tx,
        "meter_stop_wh": 1500,
        "reason": "EVDisconnected",
    }


# -- refusals and bad input -----------------------------------------------------------------


@pytest.mark.parametrize("offered", [None, ["ocpp2.0.1"]])
async def test_client_without_ocpp16_subprotocol_is_closed_with_a_reason(
    server: OcppServer, uplink: RecordingUplink, offered: list[str] | None
) -> None:
    async with websockets.connect(url(server), subprotocols=offered) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol is None
        with pytest.raises(ConnectionClosed) as info:
            async with asyncio.timeout(5):
                await ws.recv()
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1002
    assert "ocpp1.6" in info.value.rcvd.reason
    assert server.stats.refused == 1
    assert not server.connected_charge_points
    assert not uplink.events


async def test_url_without_charge_point_id_is_refused(server: OcppServer) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(url(server, ""), subprotocols=["ocpp1.6"]):
            pass
    assert info.value.response.status_code == 404
    assert b"charge point id" in info.value.response.body


async def test_malformed_messages_get_call_errors_and_dead_letters(
    server: OcppServer, uplink: RecordingUplink
) -> None:
    bad_schema = (
        '[2,"m2","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Broken"}]'
    )
    async with raw_client(server, "RAW1") as ws:
        not_json = await exchange(ws, "this is not json")
        assert not_json[:3] == [4, "-1", "FormatViolation"]
        missing = await exchange(ws, '[2,"m1","StatusNotification",{"connectorId":1}]')
        assert missing[:3] == [4, "m1", "ProtocolError"]
        invalid = await exchange(ws, bad_schema)
        assert invalid[:2] == [4, "m2"]
        assert invalid[2] in ("FormatViolation", "PropertyConstraintViolation")
        unknown = await exchange(ws, '[2,"m3","Teleport",{}]')
        assert unknown[:3] == [4, "m3", "NotSupported"]
        # A broken response is not answered, and the connection still serves.
        await ws.send('[3,"x"]')
        answer = await exchange(ws, '[2,"h1","Heartbeat",{}]')
        assert answer[0:2] == [3, "h1"]
        assert "currentTime" in answer[2]
    assert uplink.kinds() == ["charger.heartbeat"]
    raws = [dl.raw for dl in uplink.dead_letters]
    assert raws == [
        b"this is not json",
        b'[2,"m1","StatusNotification",{"connectorId":1}]',
        bad_schema.encode(),
        b'[2,"m3","Teleport",{}]',
        b'[3,"x"]',
    ]
    for dl in uplink.dead_letters:
        assert dl.device_id == "ocpp:RAW1"
        assert dl.protocol == "ocpp16"
        assert dl.gateway_id == GW
        assert dl.reason
    assert "JSON" in uplink.dead_letters[0].reason
    assert "StatusNotification" in uplink.dead_letters[1].reason
    assert server.stats.dead_letters == 5


async def test_hostile_frames_do_not_cost_the_connection(
    server: OcppServer, uplink: RecordingUplink
) -> None:
    deep = "[" * 50_000 + "]" * 50_000
    async with raw_client(server, "RAW2") as ws:
        assert (await exchange(ws, deep))[:3] == [4, "-1", "FormatViolation"]
        assert (await exchange(ws, '[2,"a",["x"],{}]'))[:3] == [4, "a", "FormatViolation"]
        assert (await exchange(ws, '{"not": "a list"}'))[:3] == [4, "-1", "ProtocolError"]
        assert (await exchange(ws, '[2,"h2","Heartbeat",{}]'))[:2] == [3, "h2"]
    assert len(uplink.dead_letters) == 3
    assert uplink.kinds() == ["charger.heartbeat"]


async def test_uplink_failure_answers_internal_error_and_a_retry_succeeds(
    server: OcppServer, uplink: RecordingUplink
) -> None:
    async with charger(server) as cp:
        uplink.fail = True
        with pytest.raises(InternalError):
            await cp.call(status(1, "Faulted", "GroundFailure"), suppress=False)
        assert server.stats.publish_failures == 2  # the fault and the port status
        uplink.fail = False
        await cp.call(status(1, "Faulted", "GroundFailure"), suppress=False)
    assert uplink.kinds() == ["charger.fault", "charger.port_status"]


# -- down-link and connections ----------------------------------------------------------------


async def test_call_sends_remote_start_and_returns_the_chargers_answer(
    server: OcppServer,
) -> None:
    async with charger(server, "CP-7") as cp:
        await cp.call(call.Heartbeat())
        answer = await server.call("CP-7", commands.remote_start(2, "TAG42"))
        assert answer.status == RemoteStartStopStatus.accepted
        assert cp.remote_starts == [{"id_tag": "TAG42", "connector_id": 2}]
        # The client has no UnlockConnector handler: its CallError becomes an exception.
        with pytest.raises(NotImplementedError):
            await server.call("ocpp:CP-7", commands.unlock_connector(1))
    await wait_until(lambda: not server.connected_charge_points, 5, "disconnect noticed")
    with pytest.raises(ChargePointNotConnected):
        await server.call("CP-7", commands.remote_stop(1))
    assert server.stats.calls_sent == 2


async def test_a_reconnecting_charger_replaces_its_old_connection(
    server: OcppServer, uplink: RecordingUplink
) -> None:
    async with charger(server, "CP1") as old:
        await old.call(call.Heartbeat())
        async with charger(server, "CP1") as new:
            await wait_until(lambda: server.stats.replaced == 1, 5, "old connection replaced")
            await new.call(call.Heartbeat())
            await wait_until(lambda: old._connection.state.name == "CLOSED", 5, "old closed")
            assert server.connected_charge_points == {"CP1"}
            assert server.stats.connections_open == 1
    assert uplink.kinds() == ["charger.heartbeat"] * 2


async def test_stop_closes_connections(server: OcppServer) -> None:
    async with raw_client(server, "CP9") as ws:
        await exchange(ws, '[2,"h","Heartbeat",{}]')
        assert server.connected_charge_points == {"CP9"}
        await server.stop()
        with pytest.raises(ConnectionClosed) as info:
            async with asyncio.timeout(5):
                await ws.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1001
    assert not server.connected_charge_points


async def test_simulated_charger_boots_reports_status_and_heartbeats(
    server: OcppServer, uplink: RecordingUplink
) -> None:
    report = await run_charge_point(
        f"ws://127.0.0.1:{server.port}/ocpp",
        "SIM-1",
        connectors=2,
        duration_s=3.0,
        rng_seed=7,
        heartbeat_s=0.5,
        step_s=0.1,
    )
    kinds = set(uplink.kinds())
    assert {"charger.boot", "charger.port_status", "charger.heartbeat"} <= kinds
    assert kinds <= {
        "charger.boot",
        "charger.heartbeat",
        "charger.port_status",
        "charger.fault",
        "charger.meter",
        "charger.session_started",
        "charger.session_stopped",
    }
    assert {e.device_id for e in uplink.events} == {"ocpp:SIM-1"}
    ports = {e.values["port"] for e in uplink.of_kind("charger.port_status")}
    assert ports == {0, 1, 2}
    assert report.connections == 1
    assert not report.call_errors
    assert report.sent["BootNotification"] == 1
    assert report.sent["Heartbeat"] >= 3
    # The server forwards a status before answering it; the run may end with one sent
    # and not yet answered (forwarded or not), never with an answered one not forwarded.
    forwarded = len(uplink.of_kind("charger.port_status"))
    assert report.answered["StatusNotification"] <= forwarded <= report.sent["StatusNotification"]
    assert report.sent["StatusNotification"] - report.answered["StatusNotification"] <= 1
    assert not uplink.dead_letters


async def test_simulated_charger_reconnects_when_the_server_comes_back(
    uplink: RecordingUplink,
) -> None:
    port = free_port()
    srv = OcppServer(make_settings(), uplink, host="127.0.0.1", port=port)
    await srv.start()
    sim = asyncio.create_task(
        run_charge_point(
            f"ws://127.0.0.1:{port}/ocpp", "SIM-2", duration_s=2.5, heartbeat_s=0.3, step_s=0.1
        )
    )
    await wait_until(lambda: "charger.boot" in uplink.kinds(), 5, "first boot")
    await srv.stop()
    await asyncio.sleep(0.3)
    srv = OcppServer(make_settings(), uplink, host="127.0.0.1", port=port)
    await srv.start()
    try:
        report = await sim
    finally:
        await srv.stop()
    assert report.connections == 2
    assert report.disconnects >= 1
    assert uplink.kinds().count("charger.boot") == 2


# -- through a real broker ------------------------------------------------------------------


@pytest.fixture
def recorder(mosquitto: MosquittoProcess) -> Iterator[MqttRecorder]:
    rec = MqttRecorder(f"test-rec-{uuid4().hex[:8]}")
    rec.connect(mosquitto.host, mosquitto.port)
    rec.subscribe(f"chub/v1/edge/{GW}/#", qos=1)
    try:
        yield rec
    finally:
        rec.close()


async def test_events_reach_the_broker_on_their_lanes(
    mosquitto: MosquittoProcess, recorder: MqttRecorder
) -> None:
    settings = make_settings(
        mqtt_host=mosquitto.host, mqtt_port=mosquitto.port, edge_publish_timeout_s=5.0
    )
    mqtt_uplink = MqttUplink(settings)
    await mqtt_uplink.start()
    srv = OcppServer(settings, mqtt_uplink, host="127.0.0.1", port=0)
    try:
        async with asyncio.timeout(10):
            await mqtt_uplink.wait_connected()
        await srv.start()
        async with charger(srv, "EV-1") as cp:
            await cp.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
            await cp.call(status(1, "Faulted", "HighTemperature"))
    finally:
        await srv.stop()
        await mqtt_uplink.stop()

    telemetry = event_topic(GW, Lane.TELEMETRY, "ocpp:EV-1")
    alarm = event_topic(GW, Lane.ALARM, "ocpp:EV-1")
    assert telemetry == f"chub/v1/edge/{GW}/events/telemetry/ocpp:EV-1"

    def arrived(topic: str) -> list[DeviceEvent]:
        return [
            DeviceEvent.model_validate_json(m.payload)
            for m in list(recorder.messages)
            if m.topic == topic
        ]

    # Acknowledged means on the broker: the recorder only has to receive them.
    await wait_until(lambda: len(arrived(telemetry)) == 2 and len(arrived(alarm)) == 1, 5, "events")
    assert [e.kind for e in arrived(telemetry)] == ["charger.boot", "charger.port_status"]
    [fault] = arrived(alarm)
    assert fault.kind == "charger.fault"
    assert fault.values["error_code"] == "HighTemperature"
    assert all(m.qos == 1 for m in recorder.messages if "/events/" in m.topic)
