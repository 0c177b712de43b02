"""The property manager's dashboard, and a device's recent history.

The dashboard is for admins, property managers and community staff (their own
community; an admin any community, or all of them). A device's history is for
whoever may see the device, like GET /api/v1/devices/{id}. The router has no
prefix: the history lives under /api/v1/devices without touching that router.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel

from api import labels
from api.deps import Conn, Context
from api.errors import MAX_ID, ErrorBody
from api.reader import CurrentReader
from api.routes.health import monitor
from api.security import UserScope, own_community, require_roles
from hub.access.scope import Scope
from hub.dashboard.charts import dashboard_chart
from hub.dashboard.models import BuildingDevice, Dashboard, DeviceEvents
from hub.dashboard.service import (
    build_dashboard,
    building_devices,
    community_zone,
    device_events,
)
from hub.errors import NotFound
from hub.i18n.catalogs import N_
from hub.users.models import Role, UserPublic

router = APIRouter(tags=["dashboard"])

Viewer = Annotated[
    UserPublic,
    Depends(require_roles(Role.ADMIN, Role.PROPERTY_MANAGER, Role.COMMUNITY_STAFF)),
]
CommunityId = Annotated[
    int | None,
    Query(
        gt=0,
        le=MAX_ID,
        description="admins: one community (default: every community, days in UTC); "
        "others may leave it out (their own)",
    ),
]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no such community (admins naming one)"}
}


def _community_for(scope: Scope, requested: int | None) -> int | None:
    """The community the caller looks at (None: every one, admins only); 403 otherwise."""
    if scope.sees_everything:
        return requested
    return own_community(scope, requested)


async def _zone(conn: Conn, community: int | None) -> str:
    zone = await community_zone(conn, community)
    if zone is None:
        raise NotFound(N_("no community %(id)s"), id=community)
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = "UTC"  # a misconfigured zone still gives a dashboard, in UTC days
    return zone


@router.get("/api/v1/dashboard", responses=_NOT_FOUND)
async def dashboard(
    _viewer: Viewer,
    scope: UserScope,
    conn: Conn,
    reader: CurrentReader,
    community_id: CommunityId = None,
) -> Dashboard:
    """Building health, the newest active alerts, open tickets by time limit, alerts per
    day by kind and the median time to close, for the last 14 days (local days)."""
    community = _community_for(scope, community_id)
    zone = await _zone(conn, community)
    found = await build_dashboard(conn, scope, community, zone, datetime.now(UTC))
    for alert in found.active_alerts:  # in the reader's language where it was kept in it
        alert.summary = (alert.titles or {}).get(reader.language) or alert.summary
    return labels.dashboard(found, reader.language)


@router.get(
    "/api/v1/dashboard/charts/{chart}.svg",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {}}, "description": "the chart, an SVG image"},
        **_NOT_FOUND,
    },
)
async def dashboard_chart_svg(
    _viewer: Viewer,
    scope: UserScope,
    conn: Conn,
    reader: CurrentReader,
    chart: Literal["alerts", "close"],
    community_id: CommunityId = None,
) -> Response:
    """One of the dashboard's charts of the last 14 days, drawn by the hub: `alerts`
    (alerts opened per day, by kind) or `close` (the median time to close, by day)."""
    community = _community_for(scope, community_id)
    zone = await _zone(conn, community)
    svg = await dashboard_chart(
        conn, scope, community, zone, datetime.now(UTC), chart, reader.language
    )
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


class HealthReason(BaseModel):
    code: str
    state: Literal["ok", "degraded", "failing"]
    detail: str


class HubHealth(BaseModel):
    """The hub's health as /readyz gives it, for the dashboard's tile."""

    status: Literal["ok", "degraded", "failing"]
    reasons: list[HealthReason]


@router.get("/api/v1/dashboard/health", response_model=HubHealth)
async def hub_health(_viewer: Viewer, ctx: Context, request: Request) -> Any:
    """Whether the hub does its job (ok, degraded, failing) and why not, as /readyz says."""
    if ctx.hub is not None:  # an API worker: the hub process judges
        return await ctx.hub.forward(request)
    verdict = await monitor(ctx).check()
    return HubHealth.model_validate(
        {
            "status": verdict.state.label,
            "reasons": [
                {"code": r.code, "state": r.state.label, "detail": r.detail}
                for r in verdict.reasons
            ],
        }
    )


@router.get("/api/v1/dashboard/buildings/{building_id}/devices")
async def devices_of_building(
    _viewer: Viewer,
    scope: UserScope,
    conn: Conn,
    reader: CurrentReader,
    building_id: Annotated[int, Path(gt=0, le=MAX_ID)],
    community_id: CommunityId = None,
) -> list[BuildingDevice]:
    """The devices of a building, its households' included, with what the dashboard
    counts for each (reachable, low battery, faulted, active alerts)."""
    community = _community_for(scope, community_id)
    found = await building_devices(conn, scope, community, building_id)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            reader.text(N_("no building %(id)s visible to you"), id=building_id),
        )
    return [labels.building_device(d, reader.language) for d in found]


@router.get("/api/v1/devices/{device_id}/events", tags=["devices"])
async def device_history(
    scope: UserScope,
    conn: Conn,
    reader: CurrentReader,
    device_id: Annotated[str, Path(max_length=128)],
    limit: Annotated[int, Query(ge=1, le=200, description="how many, newest first")] = 50,
) -> DeviceEvents:
    """A device's recent events (kind, device and receive time, values), newest first.
    Duress events are shown to community staff and admins only."""
    found = await device_events(conn, scope, device_id, limit)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            reader.text(N_("no device %(id)s visible to you"), id=repr(device_id)),
        )
    return labels.device_events(found, reader.language)
