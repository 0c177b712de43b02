"""Realistic traffic for each codec, built with the simulators' own encoders."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    payloads: list[bytes]
    hint: str | None = None  # device hint for message adapters


def _watch() -> Sample:
    from community_hub_tools.sim.watch import SimulatedWatch

    rng = random.Random(7)
    watches = [SimulatedWatch(str(8800000000 + n), rng=random.Random(n)) for n in range(20)]
    frames: list[bytes] = []
    for _ in range(100):
        watch = rng.choice(watches)
        roll = rng.random()
        if roll < 0.45:
            frames.append(watch.heartbeat())
        elif roll < 0.85:
            frames.append(watch.position())
        elif roll < 0.95:
            frames.append(watch.pulse())
        else:
            frames.append(watch.alarm("sos"))
    return Sample(frames)


def _iw() -> Sample:
    from community_hub_tools.sim.iw_watch import SimulatedIwWatch

    rng = random.Random(7)
    watch = SimulatedIwWatch("353456789012345", rng=random.Random(1))
    # One connection: the login first, then a realistic mix.
    frames = [watch.login()]
    for _ in range(100):
        roll = rng.random()
        if roll < 0.45:
            frames.append(watch.heartbeat())
        elif roll < 0.85:
            frames.append(watch.location())
        elif roll < 0.95:
            frames.append(watch.heart_rate())
        else:
            frames.append(watch.alarm("sos"))
    return Sample(frames)


def _ebike() -> Sample:
    from community_hub_tools.sim.ebike_pile import SimulatedEbikePile

    rng = random.Random(7)
    pile = SimulatedEbikePile("EB-BENCH-01", 10, rng=random.Random(1))
    frames = [pile.registration()]
    for _ in range(100):
        roll = rng.random()
        if roll < 0.3:
            frames.append(pile.all_port_status())
        elif roll < 0.9:
            frames.append(pile.port_status(rng.randint(1, 10)))
        else:
            frames.append(pile.fault(rng.randint(1, 10), 1))
    return Sample(frames)


def _ocpp16() -> Sample:
    """OCPP-J Call messages as a charger sends them (the normalizer's input is the parsed Call)."""
    import json

    rng = random.Random(7)
    messages: list[bytes] = []
    for n in range(100):
        roll = rng.random()
        if roll < 0.4:
            status = rng.choice(["Available", "Preparing", "Charging", "Finishing", "Faulted"])
            error = "HighTemperature" if status == "Faulted" else "NoError"
            call = [
                2,
                str(n),
                "StatusNotification",
                {
                    "connectorId": rng.randint(0, 2),
                    "errorCode": error,
                    "status": status,
                    "timestamp": "2026-11-21T08:00:00Z",
                },
            ]
        elif roll < 0.8:
            call = [
                2,
                str(n),
                "MeterValues",
                {
                    "connectorId": 1,
                    "transactionId": 7,
                    "meterValue": [
                        {
                            "timestamp": "2026-11-21T08:00:00Z",
                            "sampledValue": [
                                {
                                    "value": f"{rng.uniform(1, 7):.2f}",
                                    "measurand": "Power.Active.Import",
                                    "unit": "kW",
                                },
                                {
                                    "value": f"{rng.uniform(0, 50):.3f}",
                                    "measurand": "Energy.Active.Import.Register",
                                    "unit": "kWh",
                                },
                            ],
                        }
                    ],
                },
            ]
        else:
            call = [2, str(n), "Heartbeat", {}]
        messages.append(json.dumps(call).encode())
    return Sample(messages, hint="CP-BENCH-01")


def _hikvision() -> Sample:
    from community_hub_tools.sim.door_gate import SimulatedGate

    gate = SimulatedGate("gate-bench")
    rng = random.Random(7)
    bodies = []
    for n in range(100):
        roll = rng.random()
        if roll < 0.5:
            bodies.append(gate.face_pass("Zhang San", f"{1000 + n}"))
        elif roll < 0.8:
            bodies.append(gate.door_opened())
        elif roll < 0.95:
            bodies.append(gate.card_denied("99999999", known_card=False))
        else:
            bodies.append(gate.forced_open())
    return Sample(bodies, hint="gate-bench")


def _z2m() -> Sample:
    from community_hub_tools.sim.locks import SimulatedZ2mLock

    lock = SimulatedZ2mLock("bench_door")
    rng = random.Random(7)
    messages = []
    for _ in range(100):
        topic_payload = (
            lock.unlock("keypad", rng.randint(1, 5)) if rng.random() < 0.5 else lock.lock()
        )
        messages.append(topic_payload[1])
    return Sample(messages, hint="bench_door")


def _tuya() -> Sample:
    from community_hub_tools.sim.locks import SimulatedTuyaLock

    lock = SimulatedTuyaLock("bfbench0000000000")
    rng = random.Random(7)
    messages = []
    for _ in range(100):
        roll = rng.random()
        message = lock.unlock("fingerprint", rng.randint(1, 5)) if roll < 0.8 else lock.doorbell()
        messages.append(message[1])
    return Sample(messages, hint="bfbench0000000000")


SAMPLES: dict[str, Callable[[], Sample]] = {
    "hikvision_acs": _hikvision,
    "z2m_lock": _z2m,
    "tuya_lock": _tuya,
    "ocpp16": _ocpp16,
    "watch": _watch,
    "iw": _iw,
    "ebike": _ebike,
}
