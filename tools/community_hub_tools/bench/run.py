"""``community-hub bench ingest|api|memory|multihub``: run, print, write the section."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from community_hub_tools.bench.report import publish

LOAD_BENCHES = ("ingest", "api", "memory", "multihub")


async def run_load_benches(args: argparse.Namespace, output: Path | None) -> None:
    which = args.which
    if which in ("ingest", "all"):
        from community_hub_tools.bench import ingest

        result = await ingest.run_ingest_bench(count=args.messages)
        title = "Ingest throughput at QoS 1: the hub against a bare paho consumer"
        publish(ingest.markdown(result, title, "1. ingest, hub / bare consumer"), "ingest", output)
    if which in ("api", "all"):
        from community_hub_tools.bench import api

        runs = [
            await api.run_api_bench(
                clients=args.clients, duration_s=args.api_duration, api_workers=workers
            )
            for workers in args.api_workers.split(",")
        ]
        publish(api.markdown(runs), "api", output)
    if which in ("memory", "all"):
        from community_hub_tools.bench import memory

        mem = await memory.run_memory_bench(device_count=args.devices)
        publish(memory.markdown(mem), "memory", output)
    if which in ("multihub", "all"):
        from community_hub_tools.bench import ingest

        if not ingest.shared_group_supported():
            message = "multihub: skipped, the hub has no HUB_SHARED_GROUP setting yet"
            if which == "multihub":
                raise SystemExit(f"community-hub bench {message}")
            print(message)
            return
        multi = await ingest.run_multihub_bench(
            args.database_url, hubs=args.hubs, count=args.messages
        )
        title = f"Ingest with {args.hubs} hub processes on PostgreSQL (shared subscription)"
        figure = f"5. ingest, {args.hubs} hubs on PostgreSQL / bare consumer"
        publish(ingest.markdown(multi, title, figure), "multihub", output)


def add_arguments(bench: argparse.ArgumentParser) -> None:
    bench.add_argument(
        "--messages", type=int, default=100_000, help="ingest, multihub: messages offered"
    )
    bench.add_argument("--clients", type=int, default=32, help="api: concurrent clients")
    bench.add_argument("--api-duration", type=float, default=30.0, help="api: seconds of load")
    bench.add_argument(
        "--api-workers",
        default=f"0,{os.cpu_count() or 1}",
        help="api: HUB_API_WORKERS values to measure one after another (0: in the hub process)",
    )
    bench.add_argument("--devices", type=int, default=100_000, help="memory: registered devices")
    bench.add_argument("--hubs", type=int, default=3, help="multihub: hub processes")
    bench.add_argument(
        "--database-url",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/chub_bench",
        help="multihub: PostgreSQL server; fresh databases named after this one are "
        "created and dropped",
    )
