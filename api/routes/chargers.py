"""Charging availability (which ports are free, for anyone in the community) and
residents' reservations of a port."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Conn, Context, Limit, Offset
from api.pagination import Page
from api.reader import CurrentReader
from api.security import UserScope, require_roles
from hub.chargers import reservations
from hub.chargers.models import ChargerAvailability, Reservation
from hub.chargers.service import availability_json
from hub.chargers.words import reservation_label
from hub.users.models import Role, UserPublic

# No prefix: the charger paths and /api/v1/reservations share this one router.
router = APIRouter(tags=["chargers"])

Resident = Annotated[UserPublic, Depends(require_roles(Role.RESIDENT))]


class ReservationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minutes: Annotated[
        int,
        Field(
            ge=reservations.MIN_MINUTES,
            le=reservations.MAX_MINUTES,
            description="how long to hold the port, from now",
        ),
    ]


@router.get("/api/v1/chargers/availability", response_model=list[ChargerAvailability])
async def availability(scope: UserScope, conn: Conn, reader: CurrentReader) -> Response:
    """Every charger of your community, port by port; a port you reserved says so."""
    # The JSON comes ready from the service (each charger serialised once per change of
    # its state), so it is not validated and serialised again here.
    body = await availability_json(conn, scope, datetime.now(UTC), reader.language)
    return Response(content=body, media_type="application/json")


@router.post(
    "/api/v1/chargers/{device_id}/ports/{port}/reservations",
    status_code=status.HTTP_201_CREATED,
    responses={
        403: {"description": "only residents reserve"},
        404: {"description": "no such charger or port in your community"},
        409: {"description": "the port is not free, or you already hold a reservation"},
    },
)
async def reserve_port(
    _: Resident,
    scope: UserScope,
    ctx: Context,
    reader: CurrentReader,
    device_id: str,
    port: int,
    request: ReservationRequest,
) -> Reservation:
    """Hold a free port for yourself for the given minutes (one reservation at a time)."""
    async with ctx.db.write() as conn:
        made = await reservations.reserve(
            conn, scope, device_id, port, request.minutes, datetime.now(UTC)
        )
    return _labelled(made, reader.language)


@router.get("/api/v1/reservations/mine", responses={403: {"description": "only residents"}})
async def my_reservations(
    _: Resident,
    scope: UserScope,
    conn: Conn,
    reader: CurrentReader,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[Reservation]:
    """Your reservations: the active one first, then the ended ones, newest first."""
    items, total = await reservations.list_mine(
        conn, scope, datetime.now(UTC), limit=limit, offset=offset
    )
    items = [_labelled(r, reader.language) for r in items]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.post(
    "/api/v1/reservations/{reservation_id}/cancel",
    responses={
        403: {"description": "only residents"},
        404: {"description": "no such reservation of yours"},
        409: {"description": "the reservation has already ended"},
    },
)
async def cancel_reservation(
    _: Resident, scope: UserScope, ctx: Context, reader: CurrentReader, reservation_id: int
) -> Reservation:
    """Give your reservation up: the port is free for others at once."""
    async with ctx.db.write() as conn:
        cancelled = await reservations.cancel(conn, scope, reservation_id, datetime.now(UTC))
    return _labelled(cancelled, reader.language)


def _labelled(reservation: Reservation, language: str) -> Reservation:
    return reservation.model_copy(
        update={"status_label": reservation_label(reservation.status, language)}
    )
