"""The API in worker processes beside the hub process: alarms never share fate with HTTP.

The hub process stores alarms (MQTT in, ingest, timers, notifications out). Every
HTTP request is parsed, validated and answered in an API worker: a process of its
own with its own event loop, database pool and live-push streams, so no request,
however large or slow, takes the loop that stores an SOS. docs/architecture.md
says why this layout.

- The hub binds the public port once and hands the socket to each worker (the
  kernel spreads connections among them). A worker that dies is started again.
- Workers read and write the store directly. What only the hub process has (its
  health verdict, its metrics, the MQTT connection that publishes a command) they
  ask for over the hub's local Unix socket (api/hub_link.py), where the hub serves
  the same app plus api/routes/internal.py, readable by its own user only.
- Live push: each worker tails the notification outbox for its own streams
  (``OutboxRelay(deliver=False)``). On PostgreSQL a commit wakes it at once
  (LISTEN/NOTIFY, hub/notifications/wakeup.py); on SQLite it looks every
  ``HUB_API_LIVE_POLL_S`` (0.1 s).
- A worker ends when the hub process does: it watches a pipe the hub holds open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import socket
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

import uvicorn

from hub.logs import setup_logging
from hub.netutil import PortInUseError, is_addr_in_use
from hub.settings import Settings

log = logging.getLogger(__name__)

_RESTART_FIRST_S = 1.0
_RESTART_MAX_S = 30.0
_STOP_S = 10.0
_BACKLOG = 2048
PORT_HINT = "choose another with --api-port or HUB_API_PORT"
# A hub killed outright leaves its API workers holding the port until each sees the
# hub's pipe close, which it can only once its own start-up is done (tens of seconds on
# a loaded machine). A hub restarted meanwhile waits this long for them before it says
# the port is taken.
PORT_WAIT_S = 60.0
_PORT_RETRY_S = 0.5


def bind_public(host: str, port: int, *, wait_s: float = PORT_WAIT_S) -> socket.socket:
    """The API's listening socket, shared by every worker."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + wait_s
    waiting = False
    while True:
        # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that
        # say so, and without it each small answer waited ~40 ms for the client's ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            break
        except OSError as exc:
            sock.close()
            if not is_addr_in_use(exc):
                raise
            if time.monotonic() >= deadline:
                raise PortInUseError(port, "HTTP API", host=host, hint=PORT_HINT) from exc
            if not waiting:
                waiting = True
                log.warning(
                    "port %s on %s is in use; waiting up to %.0f s for it (an earlier "
                    "hub's API workers end once they see that hub gone)",
                    port,
                    host,
                    wait_s,
                )
            time.sleep(_PORT_RETRY_S)
    sock.listen(_BACKLOG)
    sock.set_inheritable(True)
    return sock


def bind_local(path: Path) -> socket.socket:
    """The hub's local socket for its workers: this user only (no other can reach the
    internal routes, which take no login)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # left by a hub that was killed
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(_BACKLOG)
    return sock


@dataclass
class _Worker:
    index: int
    process: BaseProcess
    keep_alive: Connection  # the hub's end; closing it (or dying) ends the worker
    started: float


class ApiWorkers:
    """Starts ``count`` API worker processes on ``public`` and keeps them running."""

    def __init__(
        self, settings: Settings, count: int, public: socket.socket, local_path: Path
    ) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        self._settings = settings
        self._count = count
        self._public = public
        self._local_path = local_path
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._supervisor: asyncio.Task[None] | None = None

    def _spawn(self, index: int) -> _Worker:
        reader, writer = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=run_worker,
            args=(self._settings, self._public, str(self._local_path), reader, index),
            name=f"community-hub-api-{index}",
            daemon=True,
        )
        process.start()
        reader.close()  # the worker reads; the hub only holds the writing end open
        log.info("API worker %d started (pid %s)", index, process.pid)
        return _Worker(index, process, writer, time.monotonic())

    async def start(self) -> None:
        self._workers = [self._spawn(i) for i in range(self._count)]
        self._supervisor = asyncio.create_task(self._supervise(), name="api-workers")
        log.info(
            "API: %d worker process(es) on http://%s:%s",
            self._count,
            self._settings.api.host,
            self._settings.api.port,
        )

    async def _supervise(self) -> None:
        delays = [_RESTART_FIRST_S] * self._count
        while True:
            await asyncio.sleep(0.5)
            for slot, worker in enumerate(self._workers):
                if worker.process.is_alive():
                    if time.monotonic() - worker.started > _RESTART_MAX_S:
                        delays[slot] = _RESTART_FIRST_S
                    continue
                log.error(
                    "API worker %d ended (exit code %s); starting it again in %.0f s",
                    worker.index,
                    worker.process.exitcode,
                    delays[slot],
                )
                worker.keep_alive.close()
                await asyncio.sleep(delays[slot])
                delays[slot] = min(delays[slot] * 2, _RESTART_MAX_S)
                self._workers[slot] = self._spawn(worker.index)

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        for worker in self._workers:
            worker.keep_alive.close()  # the worker sees the pipe close and stops serving
        deadline = time.monotonic() + _STOP_S
        for worker in self._workers:
            remaining = max(0.0, deadline - time.monotonic())
            await asyncio.to_thread(worker.process.join, remaining)
            if worker.process.is_alive():
                worker.process.kill()
                await asyncio.to_thread(worker.process.join, 5)


# -- in the worker process --------------------------------------------------------------


def run_worker(
    settings: Settings, public: socket.socket, local_path: str, hub_alive: Connection, index: int
) -> None:
    """A worker process's main: serve the API until the hub ends or a signal stops it."""
    setup_logging(logging.INFO)
    if settings.api.worker_nice:
        os.nice(settings.api.worker_nice)  # the hub process (alarms) goes first
    for name in ("httpx", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(settings, public, Path(local_path), hub_alive, index))


async def _serve(
    settings: Settings, public: socket.socket, local_path: Path, hub_alive: Connection, index: int
) -> None:
    from api.app import create_app
    from api.hub_link import HubLink
    from api.server import server_config
    from api.state import ApiContext
    from hub.notifications import LiveNotifier, NotificationHub, OutboxRelay, residents_in
    from hub.notifications.wakeup import listen_for_notifications, listens
    from hub.storage.db import Database

    db = Database.open(settings.resolved_database_url)
    notifier = NotificationHub(
        [LiveNotifier()],
        residents=residents_in(db),
        plugin_timeout_s=settings.notifications.plugin_timeout_s,
    )
    relay = OutboxRelay(
        db,
        notifier,
        name=f"{settings.mqtt.client_id}-api-{index}",
        poll_s=settings.api.live_poll_s,
        deliver=False,
    )
    link = HubLink(local_path)
    ctx = ApiContext(
        db=db, settings=settings, dispatcher=link, notifier=notifier, outbox=relay, hub=link
    )
    config = server_config(create_app(ctx), max_concurrency=settings.api.max_concurrency)
    server = uvicorn.Server(config)  # its own SIGINT/SIGTERM handling: a graceful stop

    loop = asyncio.get_running_loop()

    def hub_gone() -> None:
        loop.remove_reader(hub_alive.fileno())
        server.should_exit = True

    loop.add_reader(hub_alive.fileno(), hub_gone)  # readable means closed: nothing is sent
    tasks = [asyncio.create_task(relay.run(), name="api-live-feed")]
    if listens(settings.resolved_database_url):
        tasks.append(
            asyncio.create_task(
                listen_for_notifications(settings.resolved_database_url, relay.poke),
                name="api-live-wakeup",
            )
        )
    try:
        await server.serve(sockets=[public])
    finally:
        await relay.aclose()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await link.aclose()
        await db.close()
