"""Service tickets, as far as the caller may see (a volunteer: only their own)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import Conn, Limit, Offset
from api.pagination import Page
from api.security import UserScope
from hub.tickets.models import TicketPublic, TicketStatus
from hub.tickets.service import get_ticket, list_tickets

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])


@router.get("")
async def tickets(
    scope: UserScope,
    conn: Conn,
    status_: Annotated[TicketStatus | None, Query(alias="status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[TicketPublic]:
    items, total = await list_tickets(conn, scope, status=status_, limit=limit, offset=offset)
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/{ticket_id}")
async def ticket(scope: UserScope, conn: Conn, ticket_id: int) -> TicketPublic:
    found = await get_ticket(conn, scope, ticket_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no ticket {ticket_id} visible to you")
    return found
