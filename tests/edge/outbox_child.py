"""A tiny edge for the kill -9 test: an Outbox over a real MqttUplink, storing events.

Run as ``python -m tests.edge.outbox_child DB HOST PORT GATEWAY COUNT DEVICES``.
Prints ``ACK <event_id> <device_id> <n>`` for every event the outbox acknowledged
(committed), then keeps running until killed. The forwarding window is one message,
so storing outpaces forwarding and a backlog builds for the next outbox to drain.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from device_adapters.model import DeviceEvent, DeviceFamily, Lane
from edge.outbox import Outbox
from edge.settings import EdgeSettings
from edge.uplink import MqttUplink

BATCH = 25


def event(gateway_id: str, device_id: str, n: int) -> DeviceEvent:
    return DeviceEvent(
        event_id=uuid4(),
        device_id=device_id,
        family=DeviceFamily.WRISTBAND,
        protocol="watch",
        kind="wristband.heartbeat",
        lane=Lane.TELEMETRY,
        received_at=datetime.now(UTC),
        gateway_id=gateway_id,
        values={"n": n},
    )


async def main(db: Path, host: str, port: int, gateway_id: str, count: int, devices: int) -> None:
    settings = EdgeSettings(
        data_dir=db.parent,
        edge_outbox_path=db,
        mqtt_host=host,
        mqtt_port=port,
        gateway_id=gateway_id,
        edge_max_in_flight=1,
    )
    uplink = MqttUplink(settings)
    outbox = Outbox(settings, uplink, end_to_end=False)
    await outbox.open()
    await uplink.start()
    await outbox.start()
    ids = [f"watch:47000000{d:02d}" for d in range(devices)]
    pending = [event(gateway_id, ids[i % devices], i // devices) for i in range(count)]
    for start in range(0, count, BATCH):
        batch = pending[start : start + BATCH]
        # Concurrent callers, as from many device connections: one group commit.
        await asyncio.gather(*(outbox.publish_event(e) for e in batch))
        sys.stdout.write(
            "".join(f"ACK {e.event_id} {e.device_id} {e.values['n']}\n" for e in batch)
        )
        sys.stdout.flush()
        await asyncio.sleep(0.005)
    sys.stdout.write("DONE\n")
    sys.stdout.flush()
    await asyncio.Event().wait()  # until SIGKILL


if __name__ == "__main__":
    db, host, port, gateway_id, count, devices = sys.argv[1:7]
    asyncio.run(main(Path(db), host, int(port), gateway_id, int(count), int(devices)))
