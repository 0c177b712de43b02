"""Who a ticket's notifications reached: GET /api/v1/tickets/{id}/deliveries.

Its own module beside api/routes/tickets.py; the rule and the answer's shape are
hub/tickets/deliveries.py's (docs/channels.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import Conn
from api.reader import CurrentReader
from api.security import UserScope
from hub.tickets.deliveries import Delivery, ticket_deliveries

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "the caller sees the ticket but is not staff"},
    404: {"description": "no such ticket visible to the caller"},
}


@router.get("/{ticket_id}/deliveries", responses=_ERRORS)
async def deliveries_of_ticket(
    scope: UserScope, conn: Conn, reader: CurrentReader, ticket_id: int
) -> list[Delivery]:
    """Each outside channel's outcome (WeCom, DingTalk, Feishu, SMS) per person or group
    for the notifications about this ticket, newest first: sent, failed (tried again) or
    refused for good, with the vendor's reason. For admins, community staff and property
    managers; times in ISO 8601 and, as `at_label`, in the community's zone in words."""
    return await ticket_deliveries(conn, scope, ticket_id, reader.language, reader.zone)
