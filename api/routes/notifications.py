"""Live notifications for the logged-in user, as Server-Sent Events.

The stream carries what any hub committed, whichever hub it is connected to:
each hub's outbox relay tails the shared notification outbox into its own live
push (hub/notifications/outbox.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, status
from fastapi.responses import StreamingResponse
from fastapi.security import OAuth2PasswordBearer

from api.deps import Context
from api.reader import Reader
from api.security import current_user
from hub.errors import NotAuthenticated
from hub.grid.zones import community_zone
from hub.i18n.catalogs import N_
from hub.i18n.locales import DEFAULT
from hub.notifications.live import LiveNotifier
from hub.notifications.service import recipient_languages

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])

# Browsers' EventSource cannot set headers: this endpoint also takes ?access_token=.
_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": (
                "One event per notification (`event:` is its kind, e.g. `ticket.assigned`; "
                "`data:` the Notification as JSON, its `title` in your language (your "
                "profile's, else your community's) and `titles` in every one; `id:` for "
                "`Last-Event-ID`), a `lagged` event when some were lost (refetch your "
                "lists), a comment every 15 s."
            ),
        }
    },
)
async def stream(
    ctx: Context,
    bearer: Annotated[str | None, Depends(_bearer)],
    access_token: Annotated[
        str | None, Query(description="the bearer token, for EventSource clients")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=64)] = None,
    resume_after: Annotated[
        str | None, Query(max_length=64, description="same as the Last-Event-ID header")
    ] = None,
) -> StreamingResponse:
    """Notifications addressed to you or your role, live; resumes after `Last-Event-ID`."""
    token = bearer or access_token
    if not token:
        raise NotAuthenticated(N_("not authenticated: send a bearer token or ?access_token="))
    async with ctx.db.read() as conn:
        user = await current_user(token, ctx, conn)
        language = (await recipient_languages(conn, [user.id])).get(user.id)
    live = ctx.notifier.plugin(LiveNotifier) if ctx.notifier is not None else None
    if live is None:
        said = Reader(language or DEFAULT, community_zone(None)).text(
            N_("live notifications are off on this hub")
        )
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, said)
    # One account's streams are bounded (a client once held 1,000): a new page closes
    # that account's oldest stream, so a volunteer's newest page always gets through.
    open_streams = live.streams_of(user.id)
    for oldest in open_streams[: len(open_streams) - ctx.settings.api.streams_per_user + 1]:
        live.unsubscribe(oldest)
    sub = live.subscribe(user, last_event_id or resume_after, language=language)
    return StreamingResponse(
        live.frames(sub),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
