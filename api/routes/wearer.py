"""Where a ticket's wearer is, for the person sent to help: GET /api/v1/tickets/{id}/position,
and acting on their watch: POST /api/v1/tickets/{id}/watch/{locate,call,message}.

Its own module beside api/routes/tickets.py: the rule of who may see it and the answer's
shape are hub/tickets/wearer.py's, the watch's commands hub/tickets/watch_commands.py's
(docs/positions.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, status

from api.deps import Conn, Context
from api.reader import CurrentReader
from api.security import UserScope
from hub.commands import service as command_service
from hub.commands.models import CommandPublic
from hub.tickets.watch_commands import WatchCall, WatchLocate, WatchMessage, issue
from hub.tickets.wearer import WearerPosition, wearer_position

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {
        "description": "the caller sees the ticket but not its wearer's place (the detail "
        "says why: not the responder or staff, or the ticket is no longer open)"
    },
    404: {"description": "no such ticket visible to the caller, or no wristband behind it"},
}


@router.get("/{ticket_id}/position", responses=_ERRORS)
async def ticket_wearer_position(
    scope: UserScope, conn: Conn, reader: CurrentReader, ticket_id: int
) -> WearerPosition:
    """The latest position of the wristband wearer a ticket is about, to find and help them.

    For admins and community staff, and for the ticket's assignee and co-handlers while it
    is open (dispatched, accepted, in progress, extension requested). `position` has the
    watch's WGS-84, GCJ-02 (AMap) and BD-09 (Baidu), the source (`gps`, `wifi`, `lbs`),
    accuracy, the fix's time (ISO 8601 with the community's offset, and `time_label`,
    `age_label` in the reader's language and zone) and links that open AMap, Baidu Maps
    and OpenStreetMap. `position` is null until the watch gives a fix; a report without
    a fix never replaces one, it sets `no_fix_at` and `note`."""
    return await wearer_position(
        conn, scope, ticket_id, tag=reader.language, zone=reader.zone, now=datetime.now(UTC)
    )


_COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    403: {
        "description": "the caller sees the ticket but may not act on its wearer's watch "
        "(not the responder or staff, or the ticket is no longer open)"
    },
    409: {
        "description": "the watch cannot take it: not registered, not heard by any gateway, "
        "or its protocol has no such command (monitor on an IW watch)"
    },
    422: {"description": "`phone` is not a number a watch can call, or `text` is too long"},
}


async def _issue(
    ctx: Context, scope: UserScope, ticket_id: int, request: WatchLocate | WatchCall | WatchMessage
) -> CommandPublic:
    async with ctx.db.write() as conn:
        command = await issue(conn, scope, ticket_id, request, datetime.now(UTC))
    if ctx.dispatcher is not None and await ctx.dispatcher.send(command):
        async with ctx.db.read() as conn:
            command = await command_service.get(conn, command.id) or command
    return command


@router.post(
    "/{ticket_id}/watch/locate", status_code=status.HTTP_202_ACCEPTED, responses=_COMMAND_ERRORS
)
async def locate_wearer_now(
    scope: UserScope, ctx: Context, ticket_id: int, request: WatchLocate | None = None
) -> CommandPublic:
    """Ask the wearer's watch for its position now (Watch `CR`, IW `IWBP16`).

    For the same people as the position. Answers the command (its `id` is read on
    GET /api/v1/commands/{id}): `accepted` once the watch acknowledged; the fresh fix
    then shows on GET /api/v1/tickets/{id}/position. `timed_out` or `expired` when the
    watch did not answer or could not be reached within `ttl_s`."""
    return await _issue(ctx, scope, ticket_id, request or WatchLocate())


@router.post(
    "/{ticket_id}/watch/call", status_code=status.HTTP_202_ACCEPTED, responses=_COMMAND_ERRORS
)
async def watch_calls_back(
    scope: UserScope, ctx: Context, ticket_id: int, request: WatchCall
) -> CommandPublic:
    """Have the wearer's watch call `phone` (Watch `CALL`, IW `IWBP32`); with `monitor`,
    call silently so the caller listens in (Watch `MONITOR`; IW watches have none: 409)."""
    return await _issue(ctx, scope, ticket_id, request)


@router.post(
    "/{ticket_id}/watch/message", status_code=status.HTTP_202_ACCEPTED, responses=_COMMAND_ERRORS
)
async def message_to_wearer(
    scope: UserScope, ctx: Context, ticket_id: int, request: WatchMessage
) -> CommandPublic:
    """Show `text` on the wearer's watch (志愿者已出发), sent as UTF-16BE hex (Watch
    `MESSAGE`, IW `IWBP40`); at most 60 characters."""
    return await _issue(ctx, scope, ticket_id, request)
