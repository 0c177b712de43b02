"""``community-hub simulate``: simulated devices against an edge gateway (entry point
``simulate`` of ``community_hub.commands``, which hub/cli.py loads)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Final

from hub.cli import Command, edge_settings_from_args


class SimulateCommand:
    help = "simulated watches (or every family) against an edge gateway"

    def add_arguments(self, sim: argparse.ArgumentParser) -> None:
        sim.add_argument(
            "--community",
            action="store_true",
            help="every family of the demo community (watches, IW, gates, locks, chargers) "
            "against the edge's ports from EDGE_* settings",
        )
        sim.add_argument("--host", default="127.0.0.1")
        sim.add_argument("--port", type=int, default=5088)
        sim.add_argument("--watches", type=int, default=10)
        sim.add_argument("--duration", type=float, default=60.0, metavar="S")
        sim.add_argument("--alarm-every", type=float, default=10.0, metavar="S")
        sim.add_argument("--heartbeat-every", type=float, default=5.0, metavar="S")
        sim.add_argument("--position-every", type=float, default=10.0, metavar="S")

    async def run(self, args: argparse.Namespace) -> None:
        from tqdm import tqdm

        from community_hub_tools.demo.traffic import run_community_traffic
        from community_hub_tools.sim.watch import run_simulator

        if args.community:
            # Every family of the demo community, against an edge at the settings' ports.
            stop = asyncio.Event()
            task = asyncio.create_task(
                run_community_traffic(
                    edge_settings_from_args(args), stop, alarm_every_s=args.alarm_every
                )
            )
            with tqdm(total=int(args.duration), unit="s", desc="simulating community") as bar:
                for _ in range(int(args.duration)):
                    await asyncio.sleep(1)
                    bar.update(1)
            stop.set()
            await task
            return
        ids = [str(8800001000 + n) for n in range(args.watches)]
        report = await run_simulator(
            args.host,
            args.port,
            ids,
            duration_s=args.duration,
            alarm_every_s=args.alarm_every,
            heartbeat_every_s=args.heartbeat_every,
            position_every_s=args.position_every,
            progress=True,
        )
        print(report.summary())


COMMAND: Final[Command] = SimulateCommand()
