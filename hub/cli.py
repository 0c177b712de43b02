"""The ``community-hub`` console command.

Its own subcommands run the product (hub, edge, migrate, report). Other distributions add
theirs through the ``community_hub.commands`` entry points: community-hub-tools (tools/)
adds demo, simulate and bench, so nothing here imports the tools, and an install without
them says how to get them.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import importlib.util
import logging
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

from pydantic import ValidationError
from sqlalchemy.engine import make_url

from edge.settings import EdgeSettings, requested_edge_mode
from hub.gc_tuning import settle_after_startup
from hub.logs import setup_logging
from hub.netutil import PortInUseError
from hub.settings import InsecureSettingsError, Settings, requested_mode

log = logging.getLogger("community_hub")

COMMANDS_GROUP: Final = "community_hub.commands"

# The tools' subcommands, in the README's order, named here only so that without the
# tools each says how to install them instead of "invalid choice".
TOOL_COMMANDS: Final = ("demo", "simulate", "bench")
TOOLS_INSTALL_HINT: Final = (
    "pip install 'community-hub[demo]' (in a checkout: scripts/demo, or pip install -e tools)"
)


class Command(Protocol):
    """A subcommand added through an entry point of ``COMMANDS_GROUP``; the entry point's
    name is the subcommand's. ``args`` carries the global ``verbose`` flag too."""

    help: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    async def run(self, args: argparse.Namespace) -> None: ...


def _given(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The command-line options among ``names`` that were given."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def settings_from_args(args: argparse.Namespace, **fixed: Any) -> Settings:
    """Settings from HUB_* variables, overridden by the command line's ports, hosts and
    data directory, and by ``fixed`` (the mode a command always runs in)."""
    given = _given(args, "data_dir", "api_host", "api_port", "mqtt_host", "mqtt_port")
    overrides: dict[str, Any] = {}
    if "data_dir" in given:
        overrides["data_dir"] = given["data_dir"]
    # A section given in code replaces the environment's, so only the options go in.
    for section in ("api", "mqtt"):
        fields = {k.split("_", 1)[1]: v for k, v in given.items() if k.startswith(section + "_")}
        if fields:
            overrides[section] = fields
    return Settings(**overrides, **fixed)


def edge_settings_from_args(args: argparse.Namespace, **fixed: Any) -> EdgeSettings:
    """An edge gateway's settings from EDGE_* variables, overridden by the command line."""
    given = _given(args, "data_dir", "mqtt_host", "mqtt_port", "watch_port")
    return EdgeSettings(**given, **fixed)


def _production_mode(command: str, requested: str | None, variable: str) -> None:
    """`community-hub hub` and `edge` run in production, never as the demo.

    The demo's secrets are published, so these commands do not run as the demo
    whatever the settings' default: the mode variable unset means production (and the
    log says so), demo is refused. The mode is decided here, not by the class
    default, which stays "demo" for the code that builds the settings itself.
    """
    if requested == "demo":
        raise InsecureSettingsError(
            f"{variable}=demo: `community-hub {command}` never runs as the demo, whose "
            "secrets are published. For the demo run `community-hub demo`; for a "
            f"deployment leave {variable} unset (or set it to production) and set its "
            "secrets (docs/deployment.md)"
        )
    log.info(
        "community-hub %s: production mode (%s)",
        command,
        f"{variable}=production"
        if requested
        else f"{variable} not set: hub and edge always run in production; "
        "`community-hub demo` is the demo",
    )


def _production_settings(args: argparse.Namespace) -> Settings:
    """The settings of `community-hub hub`: production, never the demo."""
    _production_mode("hub", requested_mode(), "HUB_MODE")
    settings = settings_from_args(args, mode="production")
    settings.check_broker_credentials()
    return settings


def _production_edge_settings(args: argparse.Namespace) -> EdgeSettings:
    """The settings of `community-hub edge`: production, never the demo."""
    _production_mode("edge", requested_edge_mode(), "EDGE_MODE")
    settings = edge_settings_from_args(args, mode="production")
    settings.check_broker_credentials()
    settings.check_edge_credentials()
    return settings


def _setup_logging(verbose: bool) -> None:
    setup_logging(logging.DEBUG if verbose else logging.INFO)
    # Per-message and per-connection chatter says nothing a user acts on; -v shows it.
    if not verbose:
        for name in ("alembic", "ocpp", "edge.ocpp_server.wire", "websockets", "httpx"):
            logging.getLogger(name).setLevel(logging.WARNING)


async def _hub(args: argparse.Namespace) -> None:
    from api.app import create_app
    from api.server import ApiServer
    from api.state import context_of
    from api.workers import ApiWorkers, bind_local, bind_public
    from hub.runtime import HubRuntime

    settings = _production_settings(args)
    workers = settings.resolved_api_workers
    # Bound before anything starts, so a taken port is said at once.
    public = bind_public(settings.api.host, settings.api.port) if workers else None
    runtime = HubRuntime(settings)
    await runtime.start()
    pool: ApiWorkers | None = None
    if public is None:  # the API in this process
        api = ApiServer(
            create_app(context_of(runtime)),
            settings.api.host,
            settings.api.port,
            max_concurrency=settings.api.max_concurrency,
        )
    else:  # the API in worker processes; this process answers them on its local socket
        local_path = settings.data_dir.resolve() / "hub.sock"
        api = ApiServer(
            create_app(context_of(runtime), internal=True),
            "127.0.0.1",
            0,
            sockets=[bind_local(local_path)],
        )
        pool = ApiWorkers(settings, workers, public, local_path)
    try:
        await api.start()
        if pool is not None:
            await pool.start()
        else:
            log.info("API on http://%s:%s", settings.api.host, settings.api.port)
        settle_after_startup()
        await asyncio.Event().wait()
    finally:
        if pool is not None:
            await pool.stop()
        await api.stop()
        await runtime.stop()
        if public is not None:
            public.close()


async def _edge(args: argparse.Namespace) -> None:
    from edge.gateway import run_edge

    await run_edge(_production_edge_settings(args))


async def _migrate(args: argparse.Namespace) -> None:
    from hub.storage.db import Database

    settings = settings_from_args(args)
    db = Database.open(settings.resolved_database_url)
    try:
        await db.migrate()
    finally:
        await db.close()
    shown = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    print(f"database at head: {shown}")


async def _report(args: argparse.Namespace) -> None:
    from api.routes.pages import stylesheet
    from hub.reports.cli import ReportCommandError, run_report

    try:
        message = await run_report(
            settings_from_args(args).resolved_database_url,
            args.which,
            args.community,
            day=args.date,
            week=args.week,
            fmt=args.format,
            out=args.out,
            stylesheet=stylesheet(),  # a file stands alone: the page carries the stylesheet
        )
    except ReportCommandError as exc:
        print(f"community-hub report: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if message:
        print(message, file=sys.stderr)


def _installed_commands() -> dict[str, Command]:
    found: dict[str, Command] = {}
    for entry in importlib.metadata.entry_points(group=COMMANDS_GROUP):
        if entry.name in found:  # the same distribution seen twice on sys.path
            continue
        try:
            found[entry.name] = entry.load()
        except ModuleNotFoundError:
            # Metadata left without its package (a half-removed install) is no install;
            # anything else missing is a broken tool, and says so.
            if importlib.util.find_spec(entry.module.partition(".")[0]) is not None:
                raise
    return found


def _add_tool_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    taken = set(sub.choices)
    installed = _installed_commands()
    others = sorted(set(installed) - set(TOOL_COMMANDS))
    for name in [*TOOL_COMMANDS, *others]:
        if name in taken:
            continue
        command = installed.get(name)
        if command is None:
            # No options of its own: whatever follows is left for main() to ignore.
            missing = sub.add_parser(name, help="not installed: one of the tools", add_help=False)
            missing.set_defaults(run=None, missing_tool=name)
            continue
        parser = sub.add_parser(name, help=command.help)
        command.add_arguments(parser)
        parser.set_defaults(run=command.run)


def _version() -> str:
    try:
        return importlib.metadata.version("community-hub")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout not installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="community-hub",
        description="IoT device hub for residential communities. "
        "Settings: HUB_* variables (the hub), EDGE_* (an edge gateway).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    hub = sub.add_parser(
        "hub", help="the hub and its API, against an external broker (always production mode)"
    )
    hub.add_argument("--api-host")
    hub.add_argument("--api-port", type=int)
    hub.add_argument("--mqtt-host")
    hub.add_argument("--mqtt-port", type=int)
    hub.set_defaults(run=_hub)

    edge = sub.add_parser(
        "edge", help="the edge gateway: device servers, uplink to the broker (production mode)"
    )
    edge.add_argument("--mqtt-host")
    edge.add_argument("--mqtt-port", type=int)
    edge.add_argument("--watch-port", type=int)
    edge.set_defaults(run=_edge)

    migrate = sub.add_parser("migrate", help="bring the database schema to the latest version")
    migrate.set_defaults(run=_migrate)

    report = sub.add_parser(
        "report", help="a community's daily digest or weekly bulletin, as an HTML page"
    )
    report.add_argument("which", choices=["daily", "weekly"])
    report.add_argument("--community", type=int, required=True, metavar="ID")
    report.add_argument("--date", help="daily: local date YYYY-MM-DD (default: today so far)")
    report.add_argument("--week", help="weekly: ISO week YYYY-Www (default: this week so far)")
    report.add_argument("--format", choices=["html", "json"], default="html")
    report.add_argument("--out", type=Path, help="file to write (default: standard output)")
    report.add_argument("--data-dir", type=Path, help="where the SQLite file lives (.hub-data)")
    report.set_defaults(run=_report)
    _add_tool_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    missing_tool = getattr(args, "missing_tool", None)
    if missing_tool is not None:
        print(
            f"community-hub {missing_tool}: part of Community Hub's tools, not installed "
            f"here: {TOOLS_INSTALL_HINT}",
            file=sys.stderr,
        )
        return 2
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    _setup_logging(args.verbose)
    try:
        coro: Coroutine[Any, Any, None] = args.run(args)
        asyncio.run(coro)
    except KeyboardInterrupt:
        return 130
    except PortInUseError as exc:
        print(f"community-hub: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"community-hub: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    except InsecureSettingsError as exc:
        print(f"community-hub: refusing to start: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
