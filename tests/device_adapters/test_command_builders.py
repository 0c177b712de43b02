"""The adapters' command builders, sans-I/O: a DeviceCommand and facts in, wire form out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from device_adapters import ebike, ocpp16, zigbee2mqtt
from device_adapters.commands import (
    CommandRefused,
    MessageFacts,
    SessionFacts,
    StreamFacts,
)
from device_adapters.model import DeviceCommand, DeviceEvent, DeviceFamily, Lane, Scalar, Severity

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def command(kind: str, device_id: str, params: dict[str, Scalar] | None = None) -> DeviceCommand:
    return DeviceCommand(
        command_id=uuid4(),
        device_id=device_id,
        gateway_id="edge-1",
        kind=kind,  # type: ignore[arg-type]
        params=params or {},
        issued_at=NOW,
        expires_at=NOW + timedelta(minutes=1),
    )


def test_every_builtin_command_builder_is_on_its_adapter() -> None:
    assert ebike.ADAPTER.commands is not None and ocpp16.ADAPTER.commands is not None
    assert zigbee2mqtt.ADAPTER.commands is not None
    assert ebike.ADAPTER.commands.serves_device("ebike:P1")
    assert not ebike.ADAPTER.commands.serves_device("ebike:")
    assert ocpp16.ADAPTER.commands.serves_kind("charger.reserve")
    assert zigbee2mqtt.ADAPTER.commands.serves_kind("lock.unlock")


def test_the_ebike_start_frame_and_its_answer() -> None:
    builder = ebike.ADAPTER.commands
    assert builder is not None
    start = command("ebike.start", "ebike:P1", {"port": 2, "minutes": 90})
    wire = builder.build(start, StreamFacts(now=NOW))
    frame = ebike.decode_frame(wire.data)
    assert (frame.cmd, frame.data) == (ebike.Command.START_CHARGING, bytes([2, 0, 90]))
    answer = ebike.decode_frame(
        bytes([ebike.PILE_SOP])
        + ebike.encode_frame(ebike.Command.START_CHARGING, frame.session, b"\x02\x00")[1:]
    )
    assert wire.is_answer(answer)
    assert wire.verdict(answer).accepted
    # The same command always gets the same SESSION; another command another one.
    assert builder.build(start, StreamFacts(now=NOW)).data == wire.data
    again = command("ebike.start", "ebike:P1", {"port": 2, "minutes": 90})
    other = builder.build(again, StreamFacts(now=NOW))
    assert other.data != wire.data


@pytest.mark.parametrize(
    ("kind", "params", "words"),
    [
        ("ebike.start", {"port": 2}, "params.minutes"),
        ("ebike.stop", {"port": "2"}, "params.port"),
        ("ebike.start", {"port": 2, "minutes": 70000}, "bad params"),
    ],
)
def test_bad_ebike_params_are_refused(kind: str, params: dict[str, Scalar], words: str) -> None:
    assert ebike.ADAPTER.commands is not None
    with pytest.raises(CommandRefused, match=words):
        ebike.ADAPTER.commands.check(command(kind, "ebike:P1", params))


def test_an_ocpp_reservation_runs_from_the_time_the_edge_gives() -> None:
    builder = ocpp16.ADAPTER.commands
    assert builder is not None
    params: dict[str, Scalar] = {"port": 1, "id_tag": "T1", "reservation_id": 7, "minutes": 15}
    reserve = command("charger.reserve", "ocpp:CP1", params)
    call = builder.build(reserve, SessionFacts(now=NOW, transaction_on_port=lambda port: None))
    assert call.accepted_status == "Accepted"
    assert call.payload.expiry_date == "2026-05-01T08:15:00.000Z"


def test_an_ocpp_stop_by_port_needs_the_sessions_transaction() -> None:
    builder = ocpp16.ADAPTER.commands
    assert builder is not None
    stop = command("charger.remote_stop", "ocpp:CP1", {"port": 1})
    builder.check(stop)  # on arrival only the parameters are checked
    call = builder.build(stop, SessionFacts(now=NOW, transaction_on_port={1: 42}.get))
    assert call.payload.transaction_id == 42
    with pytest.raises(CommandRefused, match="no transaction known"):
        builder.build(stop, SessionFacts(now=NOW, transaction_on_port=lambda port: None))
    assert (
        builder.build(
            command("charger.unlock_connector", "ocpp:CP1", {"port": 1}),
            SessionFacts(now=NOW, transaction_on_port=lambda port: None),
        ).accepted_status
        == "Unlocked"
    )


def test_a_zigbee_unlock_goes_to_the_locks_set_topic() -> None:
    builder = zigbee2mqtt.ADAPTER.commands
    assert builder is not None
    wire = builder.build(
        command("lock.unlock", "z2m:front_door"),
        MessageFacts(now=NOW, base_topic="zigbee2mqtt", device_name="front door"),
    )
    assert (wire.topic, wire.payload) == ("zigbee2mqtt/front door/set", b'{"state":"UNLOCK"}')

    def report(kind: str, **values: Scalar) -> DeviceEvent:
        return DeviceEvent(
            event_id=uuid4(),
            device_id="z2m:front_door",
            family=DeviceFamily.LOCK,
            protocol="zigbee2mqtt",
            kind=kind,
            severity=Severity.INFORMATIONAL,
            lane=Lane.TELEMETRY,
            received_at=NOW,
            gateway_id="edge-1",
            values=values,
        )

    assert not wire.is_answer(report("lock.state", lock_state="locked"))
    unlocked = report("lock.state", lock_state="unlocked")
    assert wire.is_answer(unlocked) and wire.verdict(unlocked).accepted
    failed = report("lock.unlock_failed", attempted="unlock", reason="jammed")
    assert wire.is_answer(failed)
    assert wire.verdict(failed).detail == "lock reported unlock failure: jammed"
