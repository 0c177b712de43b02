"""Faults in the whole pipeline, with edge and hub as their own processes, as deployed.

Watches send numbered heartbeats (the step count is the sequence number) over
TCP to `community-hub edge`; `community-hub hub` stores what crosses a real
Mosquitto. Mid-stream the broker is stopped and started, or the edge is
killed with SIGKILL and restarted, or the hub is. Afterwards every frame the
edge acknowledged to a watch must be in the hub's database exactly once, and
each device's frames must have arrived in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from community_hub_tools.broker.mosquitto import MosquittoProcess, free_port
from device_adapters.watch import encode_frame
from hub.settings import local_production_env

pytestmark = pytest.mark.e2e

WATCHES = 8
WINDOW = 4


@dataclass
class Pipeline:
    broker: MosquittoProcess
    work: Path
    env: dict[str, str]
    watch_port: int
    procs: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)

    async def start(self, role: str) -> None:
        log = (self.work / f"{role}.log").open("a")
        self.procs[role] = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hub.cli", role, env=self.env, stdout=log, stderr=log
        )

    async def kill(self, role: str) -> None:
        proc = self.procs.pop(role)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()

    async def stop_all(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in self.procs.values():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 15)

    @property
    def db(self) -> Path:
        return self.work / "data" / "hub.sqlite3"


class Watches:
    """Numbered LK frames; counts, per watch, the sequence numbers the edge acknowledged."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.acked: dict[str, list[int]] = defaultdict(list)
        self.stop = asyncio.Event()

    async def _watch(self, native_id: str) -> None:
        seq = 0
        reply = encode_frame("3G", native_id, "LK")
        while not self.stop.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            try:
                while not self.stop.is_set():
                    batch = list(range(seq, seq + WINDOW))
                    for n in batch:
                        writer.write(encode_frame("3G", native_id, f"LK,{n},0,90"))
                    await writer.drain()
                    async with asyncio.timeout(30):
                        await reader.readexactly(len(reply) * WINDOW)
                    self.acked[native_id] += batch
                    seq += WINDOW
            except (OSError, asyncio.IncompleteReadError, TimeoutError):
                # Unanswered frames are sent again under new numbers, as a watch would resend.
                seq += WINDOW
                await asyncio.sleep(0.1)
            finally:
                writer.close()

    async def run(self) -> None:
        await asyncio.gather(*(self._watch(str(8950000000 + n)) for n in range(WATCHES)))


def _stored(db: Path) -> dict[str, list[tuple[str, int]]]:
    """Per device: (edge receive time, sequence) of every stored heartbeat, in the order the
    hub stored them (SQLite's rowid follows insertion)."""
    if not db.exists():
        return {}
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as c:
        try:
            rows = c.execute(
                "SELECT device_id, received_at, json_extract(\"values\", '$.steps') "
                "FROM events WHERE kind = 'wristband.heartbeat' ORDER BY rowid"
            ).fetchall()
        except sqlite3.OperationalError:
            return {}
    out: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for device_id, at, steps in rows:
        out[device_id.removeprefix("watch:")].append((at, int(steps)))
    return out


def _log_tails(p: Pipeline, lines: int = 15) -> str:
    """The end of each process's log, so a failure says what the hub and edge saw."""
    parts = []
    for role in ("hub", "edge"):
        path = p.work / f"{role}.log"
        text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
        parts.append(f"--- {role}.log ---\n" + "\n".join(text))
    return "\n".join(parts)


@pytest.fixture
async def pipeline(mosquitto: MosquittoProcess, tmp_path: Path) -> AsyncIterator[Pipeline]:
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
        "HUB_EDGE_PUBLISH_TIMEOUT_S": "3",
    }
    p = Pipeline(mosquitto, tmp_path, env, watch_port)
    await p.start("hub")
    await p.start("edge")
    try:
        yield p
    finally:
        await p.stop_all()


async def _until_stored(p: Pipeline, acked: dict[str, list[int]], timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        stored = _stored(p.db)
        if all(set(seqs) <= {s for _, s in stored.get(d, [])} for d, seqs in acked.items()):
            return
        if loop.time() > deadline:
            return
        await asyncio.sleep(0.5)


async def _until_acked(watches: Watches, at_least: int, timeout_s: float = 90) -> None:
    """Wait for the load to have ``at_least`` frames acknowledged in all.

    Not a fixed sleep: on a slow or busy machine the processes take seconds to
    start, and a load that never ran would prove nothing.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        if sum(len(v) for v in watches.acked.values()) >= at_least or loop.time() > deadline:
            return
        await asyncio.sleep(0.1)


async def _run_with_fault(p: Pipeline, fault: str) -> None:
    watches = Watches(p.watch_port)
    load = asyncio.create_task(watches.run())
    await _until_acked(watches, 300)  # the edge is up and the hub takes what it sends
    await asyncio.sleep(1)
    if fault == "broker":
        await asyncio.to_thread(p.broker.stop)
        await asyncio.sleep(3)
        await asyncio.to_thread(p.broker.start)
    else:
        await p.kill(fault)
        await asyncio.sleep(2)
        await p.start(fault)
    # Load again after the fault, once the restarted process takes it.
    await _until_acked(watches, sum(len(v) for v in watches.acked.values()) + 300)
    await asyncio.sleep(1)
    watches.stop.set()
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(load, 10)
    load.cancel()
    acked = dict(watches.acked)
    assert sum(len(v) for v in acked.values()) > 500, "the load barely ran"
    await _until_stored(p, acked, timeout_s=90)

    stored = _stored(p.db)
    for device, seqs in acked.items():
        got = [s for _, s in stored.get(device, [])]
        missing = sorted(set(seqs) - set(got))
        assert not missing, (
            f"{device}: {len(missing)} acknowledged frames lost, e.g. {missing[:5]}; "
            f"stored {sum(len(v) for v in stored.values())} in all\n{_log_tails(p)}"
        )
        assert len(got) == len(set(got)), f"{device}: a frame was stored twice"
        assert got == sorted(got), f"{device}: frames reached the hub out of order"


@pytest.mark.parametrize("fault", ["broker", "edge", "hub"])
async def test_every_acknowledged_event_arrives_once_and_in_order(
    pipeline: Pipeline, fault: str
) -> None:
    await _run_with_fault(pipeline, fault)
