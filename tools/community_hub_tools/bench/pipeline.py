"""Events per second through the whole path: watch sockets → edge → Mosquitto → hub → SQLite.

The edge and the hub run as their own processes (``community-hub edge`` and
``community-hub hub``), as in a deployment, against a Mosquitto started from
the project's configuration. Simulated watches send heartbeats over TCP with
a window of frames awaiting their reply. What counts is what arrived: events
stored in the hub's database, compared with the frames the edge acknowledged.

Two figures:
1. sustained rate: acknowledged frames per second, and the hub's stored count
   once it caught up (zero loss means stored == acknowledged);
2. drain after an outage: the broker is stopped while the watches keep
   sending (the edge's outbox keeps acknowledging them), then started again;
   the backlog divided by the time the hub takes to catch up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from community_hub_tools.broker.mosquitto import MosquittoProcess, find_mosquitto, free_port
from device_adapters.watch import encode_frame
from hub.settings import local_production_env

_WINDOW = 16  # frames a watch sends before waiting for their replies


@dataclass
class PipelineResult:
    connections: int
    duration_s: float
    acknowledged: int
    stored: int
    ack_rate: float
    outage_s: float
    backlog: int
    drain_s: float | None
    stored_after_outage: int
    acknowledged_total: int

    @property
    def lost(self) -> int:
        return self.acknowledged_total - self.stored_after_outage


class _Load:
    """Watches sending LK heartbeats over TCP, each keeping a window of frames in flight."""

    def __init__(self, port: int, connections: int) -> None:
        self.port = port
        self.connections = connections
        self.acknowledged = 0
        self.stop = asyncio.Event()

    async def _watch(self, native_id: str) -> None:
        frame = encode_frame("3G", native_id, "LK,0,10,100")
        reply_len = len(encode_frame("3G", native_id, "LK"))
        while not self.stop.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.2)
                continue
            try:
                while not self.stop.is_set():
                    writer.write(frame * _WINDOW)
                    await writer.drain()
                    await reader.readexactly(reply_len * _WINDOW)
                    self.acknowledged += _WINDOW
            except (OSError, asyncio.IncompleteReadError):
                await asyncio.sleep(0.2)
            finally:
                writer.close()

    async def run(self) -> None:
        await asyncio.gather(*(self._watch(str(8900000000 + n)) for n in range(self.connections)))


def _stored(db: Path) -> int:
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
        except sqlite3.OperationalError:  # not migrated yet
            return 0


async def _wait_for_port(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on port {port} after {timeout_s}s") from None
            await asyncio.sleep(0.2)


async def _catch_up(db: Path, target: int, timeout_s: float, bar: tqdm) -> float | None:  # type: ignore[type-arg]
    started = time.monotonic()
    while (stored := _stored(db)) < target:
        bar.set_postfix(stored=stored, target=target, refresh=True)
        if time.monotonic() - started > timeout_s:
            return None
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def run_pipeline_bench(
    duration_s: float = 20.0, outage_s: float = 10.0, connections: int = 50
) -> PipelineResult:
    binary = find_mosquitto()
    if binary is None:
        raise RuntimeError("the pipeline benchmark needs Mosquitto (apt-get install mosquitto)")
    with tempfile.TemporaryDirectory(prefix="chub-bench-") as tmp:
        work = Path(tmp)
        broker = MosquittoProcess(binary, work / "mosquitto", free_port())
        broker.write_config()
        broker.start()
        watch_port = free_port()
        env = {
            **os.environ,
            **local_production_env(),  # `community-hub hub` and `edge` run in production only
            "HUB_DATA_DIR": str(work / "data"),
            "HUB_MQTT_PORT": str(broker.port),
            "HUB_API_PORT": str(free_port()),
            "EDGE_DATA_DIR": str(work / "data"),
            "EDGE_MQTT_PORT": str(broker.port),
            "EDGE_PORTS": f"watch={watch_port}",
            "EDGE_SERVERS": "watch",
            "EDGE_HOST": "127.0.0.1",
            # All the simulated watches connect from this one address.
            "EDGE_MAX_CONNECTIONS_PER_ADDRESS": str(connections + 100),
        }
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "hub.cli",
                role,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=(work / f"{role}.log").open("w"),
            )
            for role in ("hub", "edge")
        ]
        db = work / "data" / "hub.sqlite3"
        try:
            await _wait_for_port(watch_port)
            load = _Load(watch_port, connections)
            task = asyncio.create_task(load.run())
            with tqdm(total=int(duration_s + outage_s), unit="s", desc="pipeline") as bar:
                started = time.monotonic()
                for _ in range(int(duration_s)):
                    await asyncio.sleep(1)
                    bar.update(1)
                    bar.set_postfix(acked=load.acknowledged, stored=_stored(db), refresh=True)
                elapsed = time.monotonic() - started
                acknowledged = load.acknowledged
                rate = acknowledged / elapsed
                await asyncio.to_thread(broker.stop)
                for _ in range(int(outage_s)):
                    await asyncio.sleep(1)
                    bar.update(1)
                    bar.set_postfix(acked=load.acknowledged, broker="down", refresh=True)
                load.stop.set()
                # Watches still waiting for replies are cut off: their frames were never
                # acknowledged, so they are not counted.
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(task, 5)
                total = load.acknowledged
                stored_before = _stored(db)
                await asyncio.to_thread(broker.start)
                drain = await _catch_up(db, total, 300, bar)
            stored_first = min(acknowledged, stored_before)
            return PipelineResult(
                connections=connections,
                duration_s=elapsed,
                acknowledged=acknowledged,
                stored=stored_first,
                ack_rate=rate,
                outage_s=outage_s,
                backlog=total - stored_before,
                drain_s=drain,
                stored_after_outage=_stored(db),
                acknowledged_total=total,
            )
        finally:
            for proc in procs:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
            for proc in procs:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 15)
            broker.stop()


def markdown(r: PipelineResult) -> str:
    drain = (
        f"{r.drain_s:.1f} s, {r.backlog / r.drain_s:,.0f} events/s"
        if r.drain_s
        else "did not catch up within 300 s"
    )
    return "\n".join(
        [
            "## Pipeline: watch sockets → edge → Mosquitto → hub → SQLite",
            "",
            f"{r.connections} watch connections sending LK heartbeats ({_WINDOW} frames in "
            "flight each); edge and hub as separate processes; Mosquitto from "
            "`docker/mosquitto/mosquitto.conf`. Counted: frames the edge acknowledged and "
            "events the hub stored.",
            "",
            "| figure | value |",
            "|---|---:|",
            f"| sustained, acknowledged by the edge | {r.ack_rate:,.0f} events/s "
            f"({r.acknowledged:,} in {r.duration_s:.0f} s) |",
            f"| broker outage | {r.outage_s:.0f} s, backlog {r.backlog:,} events |",
            f"| drain after the outage | {drain} |",
            f"| acknowledged in all / stored by the hub | {r.acknowledged_total:,} / "
            f"{r.stored_after_outage:,} (lost: {r.lost}) |",
        ]
    )
