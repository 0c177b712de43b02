"""Where a ticket's wearer is, for the person sent to help: GET /api/v1/tickets/{id}/position.

Its own module beside api/routes/tickets.py: the rule of who may see it and the answer's
shape are hub/tickets/wearer.py's (docs/positions.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from api.deps import Conn
from api.reader import CurrentReader
from api.security import UserScope
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
