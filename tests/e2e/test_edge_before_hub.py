"""An edge that acknowledges devices before the hub ever connected to the broker.

`community-hub edge` and `community-hub hub` run as their own processes against a
fresh Mosquitto, the edge first. Until the hub subscribes for the first time, the
broker has no session to queue events for: it acknowledges each publish and drops
it. Every frame the edge acknowledged meanwhile must still reach the hub's
database once the hub is up (the pipeline benchmark lost its first ~1,300-2,000
events this way, because the edge process is up before the hub's).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from community_hub_tools.broker.mosquitto import MosquittoProcess, free_port
from device_adapters.watch import encode_frame
from hub.settings import local_production_env

pytestmark = pytest.mark.e2e

WATCHES = 4
WINDOW = 4


async def _watch(port: int, native_id: str, acked: list[int], stop: asyncio.Event) -> None:
    """Numbered LK frames (the step count is the number); records the acknowledged ones."""
    reply = encode_frame("3G", native_id, "LK")
    seq = 0
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        try:
            while not stop.is_set():
                batch = list(range(seq, seq + WINDOW))
                seq += WINDOW
                for n in batch:
                    writer.write(encode_frame("3G", native_id, f"LK,{n},0,90"))
                await writer.drain()
                async with asyncio.timeout(20):
                    await reader.readexactly(len(reply) * WINDOW)
                acked.extend(batch)
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            await asyncio.sleep(0.1)
        finally:
            writer.close()


def _stored(db: Path) -> dict[str, set[int]]:
    if not db.exists():
        return {}
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as c:
        try:
            rows = c.execute(
                "SELECT device_id, json_extract(\"values\", '$.steps') FROM events "
                "WHERE kind = 'wristband.heartbeat'"
            ).fetchall()
        except sqlite3.OperationalError:  # not migrated yet
            return {}
    out: dict[str, set[int]] = defaultdict(set)
    for device_id, steps in rows:
        out[device_id.removeprefix("watch:")].add(int(steps))
    return out


async def test_events_acknowledged_before_the_hub_first_connected_are_stored(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    watch_port = free_port()
    env = {
        **os.environ,
        **local_production_env(),  # `community-hub hub` and `edge` run in production only
        "HUB_DATA_DIR": str(tmp_path / "data"),
        "HUB_MQTT_PORT": str(mosquitto.port),
        "HUB_API_PORT": str(free_port()),
        "HUB_EDGE_PORTS": f"watch={watch_port}",
        "HUB_EDGE_SERVERS": "watch",
        "HUB_EDGE_HOST": "127.0.0.1",
    }
    procs: list[asyncio.subprocess.Process] = []

    async def start(role: str) -> None:
        log = (tmp_path / f"{role}.log").open("a")
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hub.cli", role, env=env, stdout=log, stderr=log
            )
        )

    acked: dict[str, list[int]] = defaultdict(list)
    stop = asyncio.Event()
    try:
        await start("edge")
        ids = [str(8960000000 + n) for n in range(WATCHES)]
        load = asyncio.gather(*(_watch(watch_port, i, acked[i], stop) for i in ids))
        # The edge accepts and acknowledges with no hub anywhere yet: ten frames from each
        # watch, counted from whenever the edge process is up (slow to start on a busy
        # machine); the deadline only ends a run where it never answers.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while not all(len(acked[i]) >= 10 for i in ids):
            counts = [len(acked[i]) for i in ids]
            assert loop.time() < deadline, f"the edge acknowledged only {counts} frames"
            await asyncio.sleep(0.1)
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(load, 25)
        total = sum(len(v) for v in acked.values())
        assert total >= 40, f"the edge acknowledged only {total} frames"

        await start("hub")
        db = tmp_path / "data" / "hub.sqlite3"
        deadline = loop.time() + 180  # ends as soon as all are stored
        while loop.time() < deadline:
            stored = _stored(db)
            if all(set(seqs) <= stored.get(d, set()) for d, seqs in acked.items()):
                break
            await asyncio.sleep(0.5)
        stored = _stored(db)
        for device, seqs in acked.items():
            missing = sorted(set(seqs) - stored.get(device, set()))
            assert not missing, (
                f"{device}: {len(missing)} of {len(seqs)} acknowledged frames lost, "
                f"e.g. {missing[:5]}"
            )
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in procs:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 15)
