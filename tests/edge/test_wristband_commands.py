"""Locate, call back, monitor and message to simulated wristbands of both protocols,
through a real Mosquitto and the edge's TCP servers: the watch gets the exact bytes its
protocol specifies, answers, and the command's result comes back to the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest_asyncio

from community_hub_tools.sim.iw_watch import SimulatedIwWatch
from community_hub_tools.sim.watch import SimulatedWatch
from device_adapters import iw, watch
from device_adapters.model import CommandStatus, DeviceCommand
from edge.availability import AvailabilityTracker
from edge.commands import CommandRunner
from edge.stream_server import StreamServer
from tests.edge.test_commands import (
    RESULTS,
    RecordingUplink,
    Rig,
    make_command,
    make_settings,
    start_runner,
    wait_until,
)
from tests.support.brokers import MosquittoProcess, MqttRecorder

WATCH_ID = "8800000015"
IMEI = "353456789012345"
# 志愿者已出发 as UTF-16BE hex digits (PROTOCOLS.md 1a).
VOLUNTEER_ON_THE_WAY = "志愿者已出发"
VOLUNTEER_HEX = "5FD7613F80055DF251FA53D1"


@dataclass
class WristRig:
    uplink: RecordingUplink
    watch: StreamServer
    iw: StreamServer
    runner: CommandRunner
    results: Rig  # send() and final() of the edge command tests


@pytest_asyncio.fixture
async def rig(mosquitto: MosquittoProcess) -> AsyncIterator[WristRig]:
    settings = make_settings(mosquitto)
    uplink = RecordingUplink()
    tracker = AvailabilityTracker(settings)
    watch_server = StreamServer(
        watch.ADAPTER, settings, uplink, host="127.0.0.1", port=0, availability=tracker
    )
    iw_server = StreamServer(
        iw.ADAPTER, settings, uplink, host="127.0.0.1", port=0, availability=tracker
    )
    hub = MqttRecorder("test-hub-wrist")
    hub.connect(mosquitto.host, mosquitto.port)
    hub.subscribe(RESULTS)
    await tracker.start()
    runner = await start_runner(settings, {"watch": watch_server, "iw": iw_server}, tracker)
    await watch_server.start()
    await iw_server.start()
    # Only send(), results() and final() of Rig are used: they need the hub recorder.
    results = Rig(mosquitto, settings, uplink, tracker, None, None, None, runner, hub)  # type: ignore[arg-type]
    try:
        yield WristRig(uplink, watch_server, iw_server, runner, results)
    finally:
        for service in (iw_server, watch_server, runner, tracker):
            await service.stop()
        hub.close()


@asynccontextmanager
async def online(
    server: StreamServer,
    device_id: str,
    first: bytes,
    receive: Callable[[bytes], list[bytes]],
    *,
    answering: bool = True,
) -> AsyncIterator[list[bytes]]:
    """The watch connects, sends ``first``, and answers what it gets; yields the raw reads."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(first)
    await writer.drain()
    reads: list[bytes] = []

    async def answer() -> None:
        while data := await reader.read(4096):
            reads.append(data)
            if answering:
                for frame in receive(data):
                    writer.write(frame)
                await writer.drain()

    task = asyncio.create_task(answer())
    try:
        await wait_until(lambda: device_id in server.connected_devices, 5, f"{device_id} online")
        yield reads
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def run(rig: WristRig, command: DeviceCommand) -> tuple[CommandStatus, str]:
    await rig.results.send(command)
    result = await rig.results.final(command.command_id)
    return result.status, result.detail


# -- Watch protocol ------------------------------------------------------------------


async def test_watch_locate_call_monitor_and_message_round_trip(rig: WristRig) -> None:
    sim = SimulatedWatch(WATCH_ID, "3G")
    device = f"watch:{WATCH_ID}"
    async with online(rig.watch, device, sim.heartbeat(), sim.receive):
        locate = make_command("wristband.locate", device)
        assert await run(rig, locate) == (CommandStatus.ACCEPTED, "watch answered CR")
        # The fresh fix the watch sends after answering CR reaches the uplink.
        await wait_until(
            lambda: any(e.kind == "wristband.position" for e in rig.uplink.events),
            5,
            "a position after CR",
        )
        call = make_command("wristband.call", device, {"phone": "13800138000"})
        assert (await run(rig, call))[0] is CommandStatus.ACCEPTED
        monitor = make_command("wristband.monitor", device, {"phone": "+8613900139000"})
        assert (await run(rig, monitor))[0] is CommandStatus.ACCEPTED
        message = make_command("wristband.message", device, {"text": VOLUNTEER_ON_THE_WAY})
        assert (await run(rig, message))[0] is CommandStatus.ACCEPTED
    commands = [f.raw for f in sim.received if f.content_type != "LK"]
    assert commands == [
        b"[3G*8800000015*0002*CR]",
        b"[3G*8800000015*0010*CALL,13800138000]",
        b"[3G*8800000015*0016*MONITOR,+8613900139000]",
        b"[3G*8800000015*0020*MESSAGE," + VOLUNTEER_HEX.encode() + b"]",
    ]
    assert sim.messages_shown == [VOLUNTEER_ON_THE_WAY]
    assert sim.calls == [("CALL", "13800138000"), ("MONITOR", "+8613900139000")]
    # The watch's answers are no dead letters: they are the commands' answers.
    assert rig.uplink.dead_letters == []


async def test_watch_with_an_index_gets_an_indexed_frame(rig: WristRig) -> None:
    sim = SimulatedWatch("4700609403", "ZJ")
    device = "watch:4700609403"
    async with online(rig.watch, device, sim.heartbeat(), sim.receive):
        status, _ = await run(rig, make_command("wristband.locate", device))
    assert status is CommandStatus.ACCEPTED
    cr = next(f for f in sim.received if f.content_type == "CR")
    assert cr.manufacturer == "ZJ" and cr.index is not None
    assert cr.raw == f"[ZJ*4700609403*{cr.index}*0002*CR]".encode()


async def test_watch_that_does_not_answer_times_out(rig: WristRig) -> None:
    sim = SimulatedWatch(WATCH_ID, "SG")
    device = f"watch:{WATCH_ID}"
    async with online(rig.watch, device, sim.heartbeat(), sim.receive, answering=False) as reads:
        status, detail = await run(rig, make_command("wristband.locate", device))
        await wait_until(lambda: b"CR]" in b"".join(reads), 5, "CR written")
    assert status is CommandStatus.TIMED_OUT
    assert "no answer" in detail


async def test_bad_parameters_fail_naming_the_field(rig: WristRig) -> None:
    device = f"watch:{WATCH_ID}"
    too_long = make_command("wristband.message", device, {"text": "志" * 61})
    bad_phone = make_command("wristband.call", device, {"phone": "138-0013"})
    assert await run(rig, too_long) == (
        CommandStatus.FAILED,
        "params.text is longer than 60 characters",
    )
    status, detail = await run(rig, bad_phone)
    assert status is CommandStatus.FAILED and detail.startswith("params.phone")


# -- IW protocol ---------------------------------------------------------------------


async def test_iw_locate_call_and_message_round_trip(rig: WristRig) -> None:
    sim = SimulatedIwWatch(IMEI)
    device = f"iw:{IMEI}"
    async with online(rig.iw, device, sim.login(), sim.receive):
        locate = make_command("wristband.locate", device)
        assert await run(rig, locate) == (CommandStatus.ACCEPTED, "watch answered IWAP16")
        await wait_until(
            lambda: any(e.kind == "wristband.position" for e in rig.uplink.events),
            5,
            "a location after IWAP16",
        )
        call = make_command("wristband.call", device, {"phone": "13800138000"})
        assert (await run(rig, call))[0] is CommandStatus.ACCEPTED
        message = make_command("wristband.message", device, {"text": VOLUNTEER_ON_THE_WAY})
        assert (await run(rig, message))[0] is CommandStatus.ACCEPTED
    journal = {c.command_id: f"{c.command_id.int % 1_000_000:06d}" for c in (locate, call, message)}
    # The rest are the edge's replies to the watch's own frames (IWBP00, IWBP01).
    commands = [(t, f) for t, f in sim.received if t in ("16", "32", "40")]
    assert commands == [
        ("16", [IMEI, journal[locate.command_id]]),
        ("32", [IMEI, journal[call.command_id], "13800138000"]),
        ("40", [IMEI, journal[message.command_id], VOLUNTEER_HEX]),
    ]
    assert sim.messages_shown == [VOLUNTEER_ON_THE_WAY]
    assert sim.calls == ["13800138000"]
    assert rig.uplink.dead_letters == []


async def test_iw_watch_gets_the_exact_message_frame(rig: WristRig) -> None:
    sim = SimulatedIwWatch(IMEI)
    device = f"iw:{IMEI}"
    async with online(rig.iw, device, sim.login(), sim.receive) as reads:
        message = make_command("wristband.message", device, {"text": VOLUNTEER_ON_THE_WAY})
        await run(rig, message)
    journal = f"{message.command_id.int % 1_000_000:06d}"
    expected = f"IWBP40,{IMEI},{journal},{VOLUNTEER_HEX}#".encode()
    assert expected in b"".join(reads)
    # The watch's IWAP40 answer got no IWBP40 back (that would read as a bad command).
    assert b"".join(reads).count(b"IWBP40") == 1


async def test_iw_has_no_monitor(rig: WristRig) -> None:
    status, detail = await run(
        rig, make_command("wristband.monitor", f"iw:{IMEI}", {"phone": "13800138000"})
    )
    assert status is CommandStatus.FAILED
    assert (
        detail == f"wristband.monitor needs a Watch-protocol wristband (watch:...), not iw:{IMEI}"
    )
