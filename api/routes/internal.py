"""Routes only the hub process's local socket serves, for its API workers (api/hub_link.py).

Never part of the public app: api.app.create_app mounts them only with
``internal=True``, which the hub uses for the app it serves on its Unix socket.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, status

from api.deps import Context
from hub.commands import service

router = APIRouter(prefix="/internal", include_in_schema=False)


@router.post("/commands/{command_id}/send")
async def send_command(command_id: Annotated[UUID, Path()], ctx: Context) -> dict[str, bool]:
    async with ctx.db.read() as conn:
        command = await service.get(conn, command_id)
    if command is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no command {command_id}")
    sent = ctx.dispatcher is not None and await ctx.dispatcher.send(command)
    return {"sent": sent}
