"""Charging availability: which ports are free, for anyone in the community."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Conn
from api.security import UserScope
from hub.chargers.models import ChargerAvailability
from hub.chargers.service import list_availability

router = APIRouter(prefix="/api/v1/chargers", tags=["chargers"])


@router.get("/availability")
async def availability(scope: UserScope, conn: Conn) -> list[ChargerAvailability]:
    return await list_availability(conn, scope)
