"""``community-hub demo``: its arguments and how it starts (entry point ``demo`` of
``community_hub.commands``, which hub/cli.py loads)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Final

from hub.cli import Command, edge_settings_from_args, settings_from_args
from hub.settings import InsecureSettingsError, requested_mode


class DemoCommand:
    help = "broker, edge, hub, API and simulated devices, on SQLite"

    def add_arguments(self, demo: argparse.ArgumentParser) -> None:
        demo.add_argument("--data-dir", type=Path, help="where the SQLite file lives (.hub-data)")
        demo.add_argument("--api-port", type=int, default=8000)
        demo.add_argument("--mqtt-port", type=int, default=11883, help="embedded broker port")
        demo.add_argument(
            "--watch-port", type=int, default=5088, help="TCP port watches connect to"
        )
        demo.add_argument("--no-simulator", action="store_true", help="do not simulate watches")
        demo.add_argument(
            "--alarm-every",
            type=float,
            default=45.0,
            metavar="S",
            help="mean seconds between simulated SOS/fall alarms",
        )

    async def run(self, args: argparse.Namespace) -> None:
        from community_hub_tools.demo.run import DemoOptions, run_demo

        if requested_mode() == "production":
            raise InsecureSettingsError(
                "HUB_MODE=production: `community-hub demo` is only ever the demo (an embedded "
                "broker, accounts with a published password). A deployment runs "
                "`community-hub hub` and `community-hub edge`; unset HUB_MODE for the demo"
            )
        settings = settings_from_args(args, mode="demo")
        edge = edge_settings_from_args(args, mode="demo")
        if not args.verbose:
            # The demo's console is for people: tickets and problems, not every connection.
            logging.getLogger("edge").setLevel(logging.WARNING)
        options = DemoOptions(simulator=not args.no_simulator, alarm_every_s=args.alarm_every)
        await run_demo(settings, edge, options)


COMMAND: Final[Command] = DemoCommand()
