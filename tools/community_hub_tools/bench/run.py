"""``community-hub bench ingest|api|memory|multihub``: run, print, write the section."""

from __future__ import annotations

import argparse
import os

from hub.bench.report import write_section

LOAD_BENCHES = ("ingest", "api", "memory", "multihub")


def _publish(args: argparse.Namespace, name: str, table: str) -> None:
    print(table)
    if not args.no_write:
        write_section(args.output, name, table)
        print(f"\nwritten to {args.output}")


async def run_load_benches(args: argparse.Namespace) -> None:
    which = args.which
    if which in ("ingest", "all"):
        from hub.bench import ingest

        result = await ingest.run_ingest_bench(count=args.messages)
        title = "Ingest throughput at QoS 1: the hub against a bare paho consumer"
        _publish(args, "ingest", ingest.markdown(result, title, "1. ingest, hub / bare consumer"))
    if which in ("api", "all"):
        from hub.bench import api

        runs = [
            await api.run_api_bench(
                clients=args.clients, duration_s=args.api_duration, api_workers=workers
            )
            for workers in args.api_workers.split(",")
        ]
        _publish(args, "api", api.markdown(runs))
    if which in ("memory", "all"):
        from hub.bench import memory

        mem = await memory.run_memory_bench(device_count=args.devices)
        _publish(args, "memory", memory.markdown(mem))
    if which in ("multihub", "all"):
        from hub.bench import ingest

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
        _publish(args, "multihub", ingest.markdown(multi, title, figure))


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
