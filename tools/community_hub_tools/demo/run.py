"""``community-hub demo``: broker, edge, hub, API and simulated watches in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from api.app import create_app
from api.server import ApiServer
from api.state import context_of
from community_hub_tools.broker.embedded import EmbeddedBroker
from community_hub_tools.demo.seed import ACCOUNTS, DEMO_PASSWORD, DEVICES, WEARERS, seed_demo
from community_hub_tools.demo.traffic import run_community_traffic
from community_hub_tools.sim.watch import SimulatedWatch, send_once
from edge.gateway import EdgeGateway
from edge.settings import EdgeSettings
from hub.gc_tuning import settle_after_startup
from hub.ingest.flows import BatchOutcome
from hub.netutil import check_port_free
from hub.runtime import HubRuntime
from hub.schema.users import users
from hub.settings import Settings

log = logging.getLogger(__name__)

# The first SOS is scripted so that a newcomer sees the whole path within a minute.
FIRST_SOS_AFTER_S = 8.0


@dataclass
class DemoOptions:
    simulator: bool = True
    alarm_every_s: float = 45.0
    announce: Callable[[str], None] = print


@dataclass
class Demo:
    """The running demo; ``stop()`` takes it down in the reverse order of start."""

    settings: Settings
    edge_settings: EdgeSettings
    options: DemoOptions
    broker: EmbeddedBroker
    hub: HubRuntime
    edge: EdgeGateway
    api: ApiServer
    tasks: list[asyncio.Task[object]] = field(default_factory=list)
    traffic_stop: asyncio.Event = field(default_factory=asyncio.Event)
    usernames: dict[int, str] = field(default_factory=dict)

    async def stop(self) -> None:
        # Simulated devices first, politely (they close their connections), then the rest.
        self.traffic_stop.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.gather(*self.tasks, return_exceptions=True)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for part in (self.api.stop, self.edge.stop, self.hub.stop, self.broker.stop):
            try:
                await part()
            except Exception:  # keep stopping the rest
                log.exception("error while stopping the demo")


def check_demo_ports(settings: Settings, edge: EdgeSettings) -> None:
    """Fail before starting anything if a port is taken, with a message that says which."""
    for host, port, what, flag in (
        ("127.0.0.1", settings.mqtt.port, "embedded MQTT broker", "--mqtt-port"),
        (edge.edge_host, edge.watch_port, "watch TCP server", "--watch-port"),
        (edge.edge_host, edge.iw_port, "IW watch TCP server", "EDGE_IW_PORT"),
        (edge.edge_host, edge.ebike_port, "e-bike pile TCP server", "EDGE_EBIKE_PORT"),
        (edge.edge_host, edge.ocpp_port, "OCPP central system", "EDGE_OCPP_PORT"),
        (edge.edge_host, edge.http_push_port, "gate push server", "EDGE_HTTP_PUSH_PORT"),
        (settings.api.host, settings.api.port, "HTTP API", "--api-port"),
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


async def start_demo(settings: Settings, edge_settings: EdgeSettings, options: DemoOptions) -> Demo:
    check_demo_ports(settings, edge_settings)
    # The embedded amqtt broker speaks MQTT 3.1.1 only: start there, rather than
    # wait for each connection's MQTT 5 CONNECT to go unanswered.
    mqtt = settings.mqtt.model_copy(update={"protocol": "3.1.1"})
    settings = settings.model_copy(update={"mqtt": mqtt})
    edge_settings = edge_settings.model_copy(update={"mqtt_protocol": "3.1.1"})
    broker = EmbeddedBroker("127.0.0.1", settings.mqtt.port)
    await broker.start()
    hub = HubRuntime(settings)
    edge = EdgeGateway(edge_settings)
    api = ApiServer(
        create_app(context_of(hub)),
        settings.api.host,
        settings.api.port,
        max_concurrency=settings.api.max_concurrency,
    )
    demo = Demo(settings, edge_settings, options, broker, hub, edge, api)
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
        demo.tasks.append(
            asyncio.create_task(
                run_community_traffic(edge_settings, demo.traffic_stop, options.alarm_every_s)
            )
        )
        demo.tasks.append(asyncio.create_task(_first_sos(edge_settings, options)))
    return demo


async def _first_sos(settings: EdgeSettings, options: DemoOptions) -> object:
    await asyncio.sleep(FIRST_SOS_AFTER_S)
    watch = SimulatedWatch(WEARERS[0].watch_id)
    options.announce(f"  simulator: {WEARERS[0].resident} presses SOS on watch {watch.native_id}")
    return await send_once("127.0.0.1", settings.watch_port, watch.alarm("sos"), expect_reply=True)


def _count(family: str) -> int:
    return sum(1 for d in DEVICES if d.family.value == family)


def _padded(text: str, columns: int) -> str:
    # A Chinese character takes two columns of a terminal.
    width = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(1, columns - width)


def banner(settings: Settings, edge: EdgeSettings) -> str:
    base = f"http://{settings.api.host}:{settings.api.port}"
    # The operator's console: the people as the community names them, roles in both languages.
    accounts = "\n".join(
        f"      {a.username:<13} {_padded(a.full_name, 12)}{a.description}" for a in ACCOUNTS
    )
    return f"""
Community Hub demo is running.

  Property dashboard:     {base}/dashboard   (log in as manager or staff)
  Volunteer inbox (live): {base}/inbox   (log in as the volunteer on duty, e.g. vol.li)
  Resident charging:      {base}/charging   (log in as resident.sun)
  API docs (try it out):  {base}/docs
  Health:                 {base}/healthz
  Prometheus metrics:     {base}/metrics
  Accounts 账号 (password for all 统一密码: {DEMO_PASSWORD}):
{accounts}
  Data (SQLite):          {settings.sqlite_path}
  MQTT broker (embedded): 127.0.0.1:{settings.mqtt.port}
  Devices connect to the edge gateway on {edge.edge_host}:
      wristbands  TCP {edge.watch_port} ("Watch" protocol), TCP {edge.iw_port} (IW protocol)
      e-bike piles TCP {edge.ebike_port} (binary frames behind a DTU)
      EV chargers ws://…:{edge.ocpp_port}/ocpp/<id> (OCPP 1.6J)
      gates       http://…:{edge.http_push_port}/acs/<id>/events (event push)
      locks       MQTT {edge.z2m_base_topic}/# (Zigbee2MQTT), \
{edge.tuya_base_topic}/+/state (Tuya)
  Simulated: {len(WEARERS) + 1} wristbands, {_count("door_access")} gates, {_count("lock")} locks, \
{_count("charger")} charging piles

  Try:
    TOKEN=$(curl -s -d 'username=admin&password={DEMO_PASSWORD}' {base}/api/v1/auth/token \\
            | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    curl -s -H "Authorization: Bearer $TOKEN" '{base}/api/v1/tickets?status=dispatched'

    curl -s -H "Authorization: Bearer $TOKEN" {base}/api/v1/chargers/availability
    curl -s -H "Authorization: Bearer $TOKEN" {base}/api/v1/communities/1/rules
    curl -s -N "{base}/api/v1/notifications/stream?access_token=$TOKEN"   # live push

  An SOS comes in {FIRST_SOS_AFTER_S:.0f} s, then an SOS or a fall now and then. Nobody accepts
  them in the demo, so each escalates: the volunteer on duty, after 2 min the backup,
  then the grid worker, the staff and the family (docs/alarms.md).
  Ctrl-C stops the demo.
"""


async def run_demo(settings: Settings, edge: EdgeSettings, options: DemoOptions) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    demo = await start_demo(settings, edge, options)
    settle_after_startup()
    options.announce(banner(settings, edge))
    try:
        await stop.wait()
    finally:
        options.announce("\nStopping the demo…")
        await demo.stop()
        options.announce(f"Stopped. The data stays in {settings.sqlite_path}")
