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
    from edge.simulator import SimulatedWatch

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


SAMPLES: dict[str, Callable[[], Sample]] = {
    "watch": _watch,
}
