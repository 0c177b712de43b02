"""Run the API with uvicorn inside the caller's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator

import uvicorn
from fastapi import FastAPI

from api.state import ApiContext


class _InLoopServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The process owner (the CLI) handles Ctrl-C and stops every part in order.
        yield


def server_config(
    app: FastAPI, *, host: str = "127.0.0.1", port: int = 0, max_concurrency: int | None = None
) -> uvicorn.Config:
    """How every API server of the hub runs: in the hub process or in a worker."""
    # An app without the hub's context (a test's stand-in server) trusts no proxy.
    ctx: ApiContext | None = getattr(app.state, "ctx", None)
    proxies = ctx.settings.api.trusted_proxies if ctx is not None else []
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        # X-Forwarded-For/-Proto only from the proxies named in the settings: uvicorn
        # would believe any local process, which could then pose as any client (and
        # so dodge the per-address login limit).
        proxy_headers=bool(proxies),
        forwarded_allow_ips=list(proxies) or None,
        # Past this many requests in progress, answer 503 at once rather than queue.
        limit_concurrency=max_concurrency,
        # An idle keep-alive connection is closed after this long.
        timeout_keep_alive=15,
        # A request's headers may not exceed this (h11's incomplete event bound).
        h11_max_incomplete_event_size=16 * 1024,
        log_level="warning",
        access_log=False,
        lifespan="off",
        # Live-push streams never end by themselves: give them a few seconds, then close.
        timeout_graceful_shutdown=3,
    )


class ApiServer:
    """The API served from the caller's event loop: on ``host:port``, or on ``sockets``
    already bound (the hub's local socket for its API workers)."""

    def __init__(
        self,
        app: FastAPI,
        host: str,
        port: int,
        *,
        max_concurrency: int | None = None,
        sockets: list[socket.socket] | None = None,
    ) -> None:
        config = server_config(app, host=host, port=port, max_concurrency=max_concurrency)
        self._server = _InLoopServer(config)
        self._sockets = sockets
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=self._sockets), name="api")
        while not self._server.started:
            if self._task.done():
                await self._task  # re-raise why it could not start
                raise RuntimeError("API server stopped before it started")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
