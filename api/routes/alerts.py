"""Alerts, as far as the caller may see."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import Conn, Limit, Offset
from api.pagination import Page
from api.security import UserScope
from hub.alerts.models import AlertPublic, AlertStatus
from hub.alerts.service import get_alert, list_alerts

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


@router.get("")
async def alerts(
    scope: UserScope,
    conn: Conn,
    status_: Annotated[AlertStatus | None, Query(alias="status")] = None,
    kind: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9_]+\.[a-z0-9_]+$")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[AlertPublic]:
    items, total = await list_alerts(
        conn, scope, status=status_, kind=kind, limit=limit, offset=offset
    )
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/{alert_id}")
async def alert(scope: UserScope, conn: Conn, alert_id: int) -> AlertPublic:
    found = await get_alert(conn, scope, alert_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id} visible to you")
    return found
