"""Run the API with uvicorn inside the caller's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator

import uvicorn
from fastapi import FastAPI

from api.state import ApiContext


class _InLoopServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The process owner (the CLI) handles Ctrl-C and stops every part in order.
        yield


class ApiServer:
    def __init__(
        self, app: FastAPI, host: str, port: int, *, max_concurrency: int | None = None
    ) -> None:
        # An app without the hub's context (a test's stand-in server) trusts no proxy.
        ctx: ApiContext | None = getattr(app.state, "ctx", None)
        proxies = ctx.settings.api_trusted_proxies if ctx is not None else []
        config = uvicorn.Config(
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
        self._server = _InLoopServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(), name="api")
        while not self._server.started:
            if self._task.done():
                await self._task  # re-raise why it could not start
                raise RuntimeError("API server stopped before it started")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
