"""``community-hub bench``: which benchmark, its knobs, and where its table goes (entry
point ``bench`` of ``community_hub.commands``, which hub/cli.py loads)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from community_hub_tools.bench import run
from community_hub_tools.bench.report import publish
from hub.cli import Command


class BenchCommand:
    help = "measure, with a progress bar; results to docs/benchmarks.md"

    def add_arguments(self, bench: argparse.ArgumentParser) -> None:
        bench.add_argument(
            "which",
            nargs="?",
            default="all",
            choices=[
                "all",
                "codecs",
                "pipeline",
                "sos",
                "sos-attack",
                "ingest",
                "api",
                "memory",
                "multihub",
            ],
        )
        bench.add_argument("--duration", type=float, default=20.0, help="pipeline: seconds of load")
        bench.add_argument("--outage", type=float, default=10.0, help="pipeline: broker down, s")
        bench.add_argument("--connections", type=int, default=50, help="pipeline: watch sockets")
        bench.add_argument("--samples", type=int, default=200, help="sos: SOS alarms per phase")
        bench.add_argument(
            "--background-rate",
            type=float,
            default=5000.0,
            metavar="N",
            help="sos: telemetry events/s offered to the broker in the loaded phase",
        )
        bench.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
        # Relative to where the command runs: the checkout's report when run from its root.
        bench.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
        bench.add_argument("--no-write", action="store_true", help="print only")
        run.add_arguments(bench)

    async def run(self, args: argparse.Namespace) -> None:
        output: Path | None = None if args.no_write else args.output
        if args.which in ("codecs", "all"):
            from community_hub_tools.bench.codecs import markdown, run_codec_bench

            results = run_codec_bench(args.seconds)
            publish(markdown(results, args.seconds), "codecs", output)
        if args.which in ("pipeline", "all"):
            from community_hub_tools.bench import pipeline

            result = await pipeline.run_pipeline_bench(
                duration_s=args.duration, outage_s=args.outage, connections=args.connections
            )
            publish(pipeline.markdown(result), "pipeline", output)
        if args.which in ("sos", "all"):
            from community_hub_tools.bench import sos

            sos_result = await sos.run_sos_bench(
                samples=args.samples, background_rate=args.background_rate
            )
            publish(sos.markdown(sos_result), "sos", output)
        if args.which in ("sos-attack", "all"):
            from community_hub_tools.bench import sos

            runs = await sos.run_sos_attack_bench(samples=min(args.samples, 100))
            publish(sos.attack_markdown(runs), "sos-attack", output)
        await run.run_load_benches(args, output)


COMMAND: Final[Command] = BenchCommand()
