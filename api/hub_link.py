"""An API worker's line to the hub process, over the hub's local socket.

The hub process alone holds the MQTT connection, the ingest figures and the health
verdict; it serves the same app on a Unix socket (api/workers.py) with, besides,
the internal routes (api/routes/internal.py). An API worker forwards health and
metrics requests there and asks it to publish the commands the worker stored.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
from fastapi import Request, Response
from fastapi.responses import JSONResponse

from hub.commands.models import CommandPublic

log = logging.getLogger(__name__)

# What a worker answers for the hub's health when the hub process does not answer.
UNREACHABLE = {"status": "failing", "reasons": ["hub_process_unreachable"]}


class HubLink:
    def __init__(self, socket_path: Path, *, timeout_s: float = 5.0) -> None:
        self.socket_path = socket_path
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(socket_path)),
            base_url="http://hub",
            timeout=timeout_s,
        )

    async def forward(self, request: Request) -> Response:
        headers = {}
        if authorization := request.headers.get("authorization"):
            headers["authorization"] = authorization
        try:
            answer = await self._client.get(
                request.url.path, params=list(request.query_params.multi_items()), headers=headers
            )
        except httpx.HTTPError as exc:
            log.warning("hub process not answering %s: %s", request.url.path, exc)
            return JSONResponse(UNREACHABLE, status_code=503)
        return Response(
            answer.content,
            status_code=answer.status_code,
            media_type=answer.headers.get("content-type"),
        )

    async def send(self, command: CommandPublic) -> bool:
        """Ask the hub process to publish a stored command now. False if it could not:
        the hub's own sweep sends it within seconds (hub/commands/dispatcher.py)."""
        try:
            answer = await self._client.post(f"/internal/commands/{command.id}/send")
            answer.raise_for_status()
            return bool(answer.json()["sent"])
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            log.warning("hub process did not take command %s: %s", command.id, exc)
            return False

    async def aclose(self) -> None:
        await self._client.aclose()
