"""The ``community-hub`` console command."""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import importlib.util
import logging
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.engine import make_url

from hub.gc_tuning import settle_after_startup
from hub.logs import setup_logging
from hub.netutil import PortInUseError
from hub.settings import InsecureSettingsError, Settings, requested_mode

log = logging.getLogger("community_hub")


def _settings(args: argparse.Namespace, **fixed: Any) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("data_dir", "api_port", "mqtt_port", "watch_port", "mqtt_host", "api_host"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides, **fixed)


def _production_settings(args: argparse.Namespace, command: str) -> Settings:
    """The settings of `community-hub hub` and `edge`: production, never the demo.

    The demo's secrets are published, so these commands do not run as the demo
    whatever Settings' default: HUB_MODE unset means production (and the log says
    so), HUB_MODE=demo is refused. The mode is decided here, not by the class
    default, which stays "demo" for the code that builds Settings itself.
    """
    requested = requested_mode()
    if requested == "demo":
        raise InsecureSettingsError(
            f"HUB_MODE=demo: `community-hub {command}` never runs as the demo, whose "
            "secrets are published. For the demo run `community-hub demo`; for a "
            "deployment leave HUB_MODE unset (or set it to production) and set its "
            "secrets (docs/deployment.md)"
        )
    log.info(
        "community-hub %s: production mode (%s)",
        command,
        "HUB_MODE=production"
        if requested
        else "HUB_MODE not set: hub and edge always run in production; "
        "`community-hub demo` is the demo",
    )
    settings = _settings(args, mode="production")
    settings.check_broker_credentials()
    if command == "edge":
        settings.check_edge_credentials()
    return settings


def _setup_logging(verbose: bool) -> None:
    setup_logging(logging.DEBUG if verbose else logging.INFO)
    # Per-message and per-connection chatter says nothing a user acts on; -v shows it.
    if not verbose:
        for name in ("alembic", "ocpp", "edge.ocpp_server.wire", "websockets", "httpx"):
            logging.getLogger(name).setLevel(logging.WARNING)


async def _demo(args: argparse.Namespace) -> None:
    if importlib.util.find_spec("amqtt") is None:
        # A deployment's install carries no demo: its embedded broker is an extra.
        raise SystemExit(
            "community-hub: the demo needs its extra: pip install 'community-hub[demo]' "
            "(scripts/demo installs it)"
        )
    from hub.demo.run import DemoOptions, run_demo

    if requested_mode() == "production":
        raise InsecureSettingsError(
            "HUB_MODE=production: `community-hub demo` is only ever the demo (an embedded "
            "broker, accounts with a published password). A deployment runs "
            "`community-hub hub` and `community-hub edge`; unset HUB_MODE for the demo"
        )
    settings = _settings(args, mode="demo")
    if not args.verbose:
        # The demo's console is for people: tickets and problems, not every connection.
        logging.getLogger("edge").setLevel(logging.WARNING)
    options = DemoOptions(simulator=not args.no_simulator, alarm_every_s=args.alarm_every)
    await run_demo(settings, options)


async def _hub(args: argparse.Namespace) -> None:
    from api.app import create_app
    from api.server import ApiServer
    from api.state import context_of
    from api.workers import ApiWorkers, bind_local, bind_public
    from hub.runtime import HubRuntime

    settings = _production_settings(args, "hub")
    workers = settings.resolved_api_workers
    # Bound before anything starts, so a taken port is said at once.
    public = bind_public(settings.api_host, settings.api_port) if workers else None
    runtime = HubRuntime(settings)
    await runtime.start()
    pool: ApiWorkers | None = None
    if public is None:  # the API in this process
        api = ApiServer(
            create_app(context_of(runtime)),
            settings.api_host,
            settings.api_port,
            max_concurrency=settings.api_max_concurrency,
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
            log.info("API on http://%s:%s", settings.api_host, settings.api_port)
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

    await run_edge(_production_settings(args, "edge"))


async def _simulate(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from edge.simulator import run_simulator
    from hub.demo.traffic import run_community_traffic

    if args.community:
        # Every family of the demo community, against an edge at the settings' ports.
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_community_traffic(_settings(args), stop, alarm_every_s=args.alarm_every)
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


async def _bench(args: argparse.Namespace) -> None:
    from hub.bench.codecs import markdown, run_codec_bench
    from hub.bench.report import write_section

    if args.which in ("codecs", "all"):
        results = run_codec_bench(args.seconds)
        table = markdown(results, args.seconds)
        print(table)
        if not args.no_write:
            write_section(args.output, "codecs", table)
            print(f"\nwritten to {args.output}")
    if args.which in ("pipeline", "all"):
        from hub.bench import pipeline

        result = await pipeline.run_pipeline_bench(
            duration_s=args.duration, outage_s=args.outage, connections=args.connections
        )
        table = pipeline.markdown(result)
        print(table)
        if not args.no_write:
            write_section(args.output, "pipeline", table)
            print(f"\nwritten to {args.output}")
    if args.which in ("sos", "all"):
        from hub.bench import sos

        sos_result = await sos.run_sos_bench(
            samples=args.samples, background_rate=args.background_rate
        )
        table = sos.markdown(sos_result)
        print(table)
        if not args.no_write:
            write_section(args.output, "sos", table)
            print(f"\nwritten to {args.output}")
    if args.which in ("sos-attack", "all"):
        from hub.bench import sos

        runs = await sos.run_sos_attack_bench(samples=min(args.samples, 100))
        table = sos.attack_markdown(runs)
        print(table)
        if not args.no_write:
            write_section(args.output, "sos-attack", table)
            print(f"\nwritten to {args.output}")
    from hub.bench.run import run_load_benches

    await run_load_benches(args)


async def _migrate(args: argparse.Namespace) -> None:
    from hub.storage.db import Database

    settings = _settings(args)
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
            _settings(args),
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


def _version() -> str:
    try:
        return importlib.metadata.version("community-hub")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout not installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="community-hub",
        description="IoT device hub for residential communities. Settings: HUB_* variables.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="broker, edge, hub, API and simulated watches, on SQLite")
    demo.add_argument("--data-dir", type=Path, help="where the SQLite file lives (.hub-data)")
    demo.add_argument("--api-port", type=int, default=8000)
    demo.add_argument("--mqtt-port", type=int, default=11883, help="embedded broker port")
    demo.add_argument("--watch-port", type=int, default=5088, help="TCP port watches connect to")
    demo.add_argument("--no-simulator", action="store_true", help="do not simulate watches")
    demo.add_argument(
        "--alarm-every",
        type=float,
        default=45.0,
        metavar="S",
        help="mean seconds between simulated SOS/fall alarms",
    )
    demo.set_defaults(run=_demo)

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

    sim = sub.add_parser("simulate", help="simulated watches against an edge gateway")
    sim.add_argument(
        "--community",
        action="store_true",
        help="every family of the demo community (watches, IW, gates, locks, chargers) "
        "against the edge's ports from HUB_* settings",
    )
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=5088)
    sim.add_argument("--watches", type=int, default=10)
    sim.add_argument("--duration", type=float, default=60.0, metavar="S")
    sim.add_argument("--alarm-every", type=float, default=10.0, metavar="S")
    sim.add_argument("--heartbeat-every", type=float, default=5.0, metavar="S")
    sim.add_argument("--position-every", type=float, default=10.0, metavar="S")
    sim.set_defaults(run=_simulate)

    bench = sub.add_parser(
        "bench", help="measure, with a progress bar; results to docs/benchmarks.md"
    )
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
    bench.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    bench.add_argument("--no-write", action="store_true", help="print only")
    from hub.bench.run import add_arguments as add_load_arguments

    add_load_arguments(bench)
    bench.set_defaults(run=_bench)

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
