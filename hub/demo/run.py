"""``community-hub demo``: broker, edge, hub, API and simulated watches in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from api.app import create_app
from api.server import ApiServer
from edge.gateway import EdgeGateway
from edge.simulator import SimulatedWatch, run_simulator, send_once
from hub.broker.embedded import EmbeddedBroker
from hub.demo.seed import ACCOUNTS, DEMO_PASSWORD, WEARERS, seed_demo
from hub.ingest.flows import BatchOutcome
from hub.netutil import check_port_free
from hub.runtime import HubRuntime
from hub.settings import Settings
from hub.users.tables import users

log = logging.getLogger(__name__)

# The first SOS is scripted so that a newcomer sees the whole path within a minute.
FIRST_SOS_AFTER_S = 8.0


@dataclass
class DemoOptions:
    simulator: bool = True
    alarm_every_s: float = 45.0
    heartbeat_every_s: float = 20.0
    position_every_s: float = 30.0
    announce: Callable[[str], None] = print


@dataclass
class Demo:
    """The running demo; ``stop()`` takes it down in the reverse order of start."""

    settings: Settings
    options: DemoOptions
    broker: EmbeddedBroker
    hub: HubRuntime
    edge: EdgeGateway
    api: ApiServer
    tasks: list[asyncio.Task[object]] = field(default_factory=list)
    usernames: dict[int, str] = field(default_factory=dict)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for part in (self.api.stop, self.edge.stop, self.hub.stop, self.broker.stop):
            try:
                await part()
            except Exception:  # keep stopping the rest
                log.exception("error while stopping the demo")


def check_demo_ports(settings: Settings) -> None:
    """Fail before starting anything if a port is taken, with a message that says which."""
    for host, port, what, flag in (
        ("127.0.0.1", settings.mqtt_port, "embedded MQTT broker", "--mqtt-port"),
        (settings.edge_host, settings.watch_port, "watch TCP server", "--watch-port"),
        (settings.api_host, settings.api_port, "HTTP API", "--api-port"),
    ):
        check_port_free(host, port, what, hint=f"choose another with {flag}")


def _ticket_announcer(demo: Demo) -> Callable[[BatchOutcome], Awaitable[None]]:
    async def announce(outcome: BatchOutcome) -> None:
        for t in outcome.tickets_opened:
            who = demo.usernames.get(t.assignee_id or -1, "nobody on duty")
            demo.options.announce(
                f"  ⚠ {t.title} → alert #{t.alert_id}, ticket #{t.ticket_id} for {who}"
            )

    return announce


async def start_demo(settings: Settings, options: DemoOptions) -> Demo:
    check_demo_ports(settings)
    broker = EmbeddedBroker("127.0.0.1", settings.mqtt_port)
    await broker.start()
    hub = HubRuntime(settings)
    edge = EdgeGateway(settings)
    api = ApiServer(create_app(hub.api_context()), settings.api_host, settings.api_port)
    demo = Demo(settings, options, broker, hub, edge, api)
    hub.worker.add_listener(_ticket_announcer(demo))
    try:
        await hub.start()
        async with hub.db.write() as conn:
            await seed_demo(conn)
        async with hub.db.read() as conn:
            rows = await conn.execute(sa.select(users.c.id, users.c.username))
            demo.usernames = {r.id: r.username for r in rows}
        await edge.start()
        await api.start()
    except BaseException:
        await demo.stop()
        raise
    if options.simulator:
        demo.tasks.append(asyncio.create_task(_simulate(settings, options)))
        demo.tasks.append(asyncio.create_task(_first_sos(settings, options)))
    return demo


async def _simulate(settings: Settings, options: DemoOptions) -> object:
    return await run_simulator(
        "127.0.0.1",
        settings.watch_port,
        [w.watch_id for w in WEARERS],
        duration_s=None,
        alarm_every_s=options.alarm_every_s,
        heartbeat_every_s=options.heartbeat_every_s,
        position_every_s=options.position_every_s,
    )


async def _first_sos(settings: Settings, options: DemoOptions) -> object:
    await asyncio.sleep(FIRST_SOS_AFTER_S)
    watch = SimulatedWatch(WEARERS[0].watch_id)
    options.announce(f"  simulator: {WEARERS[0].resident} presses SOS on watch {watch.native_id}")
    return await send_once("127.0.0.1", settings.watch_port, watch.alarm("sos"), expect_reply=True)


def banner(settings: Settings) -> str:
    base = f"http://{settings.api_host}:{settings.api_port}"
    accounts = "\n".join(
        f"      {a.username:<13} {a.role.value:<17} {a.description}" for a in ACCOUNTS
    )
    return f"""
Community Hub demo is running.

  API docs (try it out):  {base}/docs
  Health:                 {base}/healthz
  Accounts (password for all: {DEMO_PASSWORD}):
{accounts}
  Data (SQLite):          {settings.sqlite_path}
  MQTT broker (embedded): 127.0.0.1:{settings.mqtt_port}
  Watches connect to:     {settings.edge_host}:{settings.watch_port} (TCP, "Watch" protocol)

  Try:
    TOKEN=$(curl -s -d 'username=admin&password={DEMO_PASSWORD}' {base}/api/v1/auth/token \\
            | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    curl -s -H "Authorization: Bearer $TOKEN" '{base}/api/v1/tickets?status=dispatched'

  Simulated watches send heartbeats and positions; an SOS comes in {FIRST_SOS_AFTER_S:.0f} s,
  then an SOS or a fall now and then. Ctrl-C stops the demo.
"""


async def run_demo(settings: Settings, options: DemoOptions) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    demo = await start_demo(settings, options)
    options.announce(banner(settings))
    try:
        await stop.wait()
    finally:
        options.announce("\nStopping the demo…")
        await demo.stop()
        options.announce(f"Stopped. The data stays in {settings.sqlite_path}")
