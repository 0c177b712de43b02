"""The demo community's devices, each speaking its real wire format over its real transport.

- Watch-protocol wristbands: TCP to the edge's watch server.
- An IW-protocol watch: TCP to the IW server.
- E-bike piles behind DTUs: TCP (binary frames) to the e-bike server.
- EV chargers: OCPP 1.6J charge points over WebSocket.
- Gates: Hikvision-style event pushes over HTTP.
- Locks: Zigbee2MQTT and Tuya bridge messages on the local MQTT broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from community_hub_tools.demo.seed import DEVICES, IW_WEARER, WEARERS
from community_hub_tools.sim.door_gate import SimulatedGate
from community_hub_tools.sim.ebike_pile import run_ebike_pile
from community_hub_tools.sim.iw_watch import SimulatedIwWatch
from community_hub_tools.sim.locks import SimulatedTuyaLock, SimulatedZ2mLock
from community_hub_tools.sim.ocpp_charger import run_charge_point
from community_hub_tools.sim.watch import run_simulator
from device_adapters.model import DeviceFamily
from edge.settings import EdgeSettings

log = logging.getLogger(__name__)

_RESIDENTS = (
    ("孙晓燕", "1001", "8800000101"),
    ("李明", "1002", "8800000102"),
    ("周慧", "2001", "8800000201"),
    ("吴涛", "3001", "8800000301"),
)


def _native(device_id: str) -> str:
    return device_id.split(":", 1)[1]


def _ids(family: DeviceFamily, protocol: str) -> list[str]:
    return [_native(d.device_id) for d in DEVICES if d.family is family and d.protocol == protocol]


async def _every(stop: asyncio.Event, mean_s: float, rng: random.Random) -> bool:
    """Sleep about ``mean_s`` (jittered); False once the demo stops."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(rng.uniform(0.5, 1.5) * mean_s):
            await stop.wait()
    return not stop.is_set()


async def iw_watch(host: str, port: int, stop: asyncio.Event, rng: random.Random) -> None:
    watch = SimulatedIwWatch(IW_WEARER.watch_id, rng=random.Random(rng.random()))
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            await _every(stop, 2.0, rng)
            continue
        try:
            writer.write(watch.login())
            while await _every(stop, 15.0, rng):
                roll = rng.random()
                frame = (
                    watch.heartbeat()
                    if roll < 0.5
                    else watch.location()
                    if roll < 0.85
                    else watch.heart_rate()
                    if roll < 0.97
                    else watch.alarm("fall")
                )
                writer.write(frame)
                await writer.drain()
                # Replies (IWBP..#) are read and dropped: the edge's protocol tests check them.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await reader.read(1024)
        except (ConnectionError, OSError):
            continue
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def gates(base_url: str, stop: asyncio.Event, rng: random.Random) -> None:
    simulated = [
        SimulatedGate(_native(device_id), device_name=_native(device_id))
        for device_id in (d.device_id for d in DEVICES if d.family is DeviceFamily.DOOR_ACCESS)
    ]
    async with httpx.AsyncClient(timeout=10) as client:
        while await _every(stop, 6.0, rng):
            gate = rng.choice(simulated)
            name, employee_no, card = rng.choice(_RESIDENTS)
            roll = rng.random()
            bodies = (
                [gate.face_pass(name, employee_no), gate.door_opened(), gate.door_closed()]
                if roll < 0.6
                else [
                    gate.card_pass(card, name, employee_no),
                    gate.door_opened(),
                    gate.door_closed(),
                ]
                if roll < 0.85
                else [gate.card_denied("99999999", known_card=False)]
                if roll < 0.95
                else [gate.held_open(), gate.door_closed()]
            )
            for body in bodies:
                with contextlib.suppress(httpx.HTTPError):
                    await gate.push(client, base_url, body)


def _mqtt_publisher(settings: EdgeSettings) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="demo-lock-bridges")
    client.connect_async(
        settings.local_mqtt_host or settings.mqtt_host,
        settings.local_mqtt_port or settings.mqtt_port,
    )
    client.loop_start()
    return client


async def locks(settings: EdgeSettings, stop: asyncio.Event, rng: random.Random) -> None:
    z2m = [
        SimulatedZ2mLock(name, base_topic=settings.z2m_base_topic)
        for name in _ids(DeviceFamily.LOCK, "z2m_lock")
    ]
    tuya = [
        SimulatedTuyaLock(dev_id, base_topic=settings.tuya_base_topic)
        for dev_id in _ids(DeviceFamily.LOCK, "tuya_lock")
    ]
    client = _mqtt_publisher(settings)
    try:
        for lock in z2m:
            topic, payload = lock.availability(True)
            client.publish(topic, payload, qos=1, retain=True)
        while await _every(stop, 12.0, rng):
            if z2m and rng.random() < 0.5:
                lock = rng.choice(z2m)
                message = (
                    lock.unlock("keypad", rng.randint(1, 4))
                    if lock.locked
                    else lock.lock("auto_lock")
                )
            elif tuya:
                tlock = rng.choice(tuya)
                message = (
                    tlock.unlock(rng.choice(("fingerprint", "card", "password")), rng.randint(1, 3))
                    if rng.random() < 0.9
                    else tlock.doorbell()
                )
            else:
                continue
            client.publish(message[0], message[1], qos=1)
    finally:
        await asyncio.to_thread(client.disconnect)
        client.loop_stop()


async def run_community_traffic(
    settings: EdgeSettings, stop: asyncio.Event, alarm_every_s: float
) -> None:
    """Every simulated device of the demo community, until ``stop`` is set."""
    rng = random.Random()
    host = "127.0.0.1"
    gate_url = f"http://{host}:{settings.http_push_port}"
    ocpp_url = f"ws://{host}:{settings.ocpp_port}/ocpp"
    devices: list[Awaitable[object]] = [
        run_simulator(
            host,
            settings.watch_port,
            [w.watch_id for w in WEARERS],
            duration_s=None,
            alarm_every_s=alarm_every_s,
            heartbeat_every_s=20.0,
            position_every_s=30.0,
            stop=stop,
        ),
        iw_watch(host, settings.iw_port, stop, random.Random(rng.random())),
        gates(gate_url, stop, random.Random(rng.random())),
        locks(settings, stop, random.Random(rng.random())),
    ]
    for pile in _ids(DeviceFamily.CHARGER, "ebike"):
        devices.append(run_ebike_pile(host, settings.ebike_port, pile, stop=stop, step_s=8.0))
    for cp in _ids(DeviceFamily.CHARGER, "ocpp16"):
        devices.append(
            run_charge_point(ocpp_url, cp, duration_s=None, stop=stop, fault_probability=0.05)
        )
    results = await asyncio.gather(*devices, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            log.error("a simulated device stopped with an error: %r", result)
