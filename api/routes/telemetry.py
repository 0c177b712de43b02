"""A device's telemetry history, and the dashboard's charts of it (hub/telemetry/charts.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from api.deps import Conn, Context
from api.reader import CurrentReader
from api.security import UserScope
from hub.access.scope import Scope, sees_vitals
from hub.dashboard.service import community_zone
from hub.devices.models import DevicePublic
from hub.devices.service import get_device
from hub.errors import Forbidden, InvalidInput, NotFound
from hub.i18n.catalogs import N_
from hub.telemetry.charts import charts_for, draw_device_chart
from hub.telemetry.history import Retention, choose_resolution, read_series
from hub.telemetry.models import SCHEMA

router = APIRouter(prefix="/api/v1/devices", tags=["telemetry"])

_MAX_VALUES = 5000
_DEFAULT_SPAN = timedelta(hours=24)


class TelemetryValue(BaseModel):
    t: datetime
    min: float
    avg: float
    max: float
    count: int


class TelemetrySeries(BaseModel):
    tags: dict[str, str]  # e.g. {"port": "1"}; {} when the device has one series
    values: list[TelemetryValue]


class TelemetryHistory(BaseModel):
    device_id: str
    measurement: str
    field: str
    resolution: Literal["raw", "5m", "1h"]
    since: datetime
    until: datetime
    series: list[TelemetrySeries]


@router.get("/{device_id}/telemetry")
async def telemetry(
    scope: UserScope,
    conn: Conn,
    ctx: Context,
    device_id: Annotated[str, Path(max_length=128)],
    measurement: Annotated[Literal["vitals", "battery", "charger", "gate_passes"], Query()],
    field: Annotated[str, Query(max_length=32, description="one of the measurement's fields")],
    since: Annotated[AwareDatetime | None, Query(description="default: 24 h before until")] = None,
    until: Annotated[AwareDatetime | None, Query(description="default: now")] = None,
    resolution: Annotated[
        Literal["raw", "5m", "1h"] | None,
        Query(description="raw readings or 5-minute / hourly min, avg, max; default: by range"),
    ] = None,
) -> TelemetryHistory:
    """One field of a device's measurements over time, as far as the caller may see the
    device. Vitals only for those who may see the wearer's health (hub.access.scope.sees_vitals)."""
    if field not in SCHEMA[measurement]:
        raise InvalidInput(
            "field",
            N_("%(measurement)s has no field %(name)s; fields: %(fields)s"),
            where="query",
            measurement=measurement,
            name=repr(field),
            fields=", ".join(SCHEMA[measurement]),
        )
    now = datetime.now(UTC)
    until = until or now
    since = since or until - _DEFAULT_SPAN
    if since >= until:
        raise InvalidInput("until", N_("must be after since"), where="query")
    device = await get_device(conn, scope, device_id)
    if device is None:
        raise NotFound(N_("no device %(id)s visible to you"), id=repr(device_id))
    if measurement == "vitals" and not sees_vitals(scope, device.household_id):
        raise Forbidden(N_("health readings are not shown to your role"))
    retention = Retention.from_settings(ctx.settings.telemetry)
    chosen = resolution or choose_resolution(since, until, now, retention)
    series = await read_series(
        conn,
        device_id=device_id,
        measurement=measurement,
        field=field,
        since=since,
        until=until,
        resolution=chosen,
        limit=_MAX_VALUES,
    )
    return TelemetryHistory(
        device_id=device_id,
        measurement=measurement,
        field=field,
        resolution=chosen,
        since=since,
        until=until,
        series=[
            TelemetrySeries(
                tags=s.tags,
                values=[
                    TelemetryValue(t=v.t, min=v.min, avg=v.avg, max=v.max, count=v.count)
                    for v in s.values
                ],
            )
            for s in series
        ],
    )


# --- The dashboard's charts of a device.


class DeviceChartInfo(BaseModel):
    name: str
    title: str


class DeviceCharts(BaseModel):
    device_id: str
    charts: list[DeviceChartInfo]


SVG_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/svg+xml": {}}, "description": "the chart, an SVG image"},
    404: {"description": "no such device (or chart) visible to the caller"},
}


async def _visible_device(conn: AsyncConnection, scope: Scope, device_id: str) -> DevicePublic:
    device = await get_device(conn, scope, device_id)
    if device is None:
        # A refusal of the hub's family: said in the reader's language (api/errors.py).
        raise NotFound(N_("no device %(id)s visible to you"), id=repr(device_id))
    return device


@router.get("/{device_id}/charts")
async def device_charts(
    scope: UserScope,
    conn: Conn,
    reader: CurrentReader,
    device_id: Annotated[str, Path(max_length=128)],
) -> DeviceCharts:
    """The charts of the device's last 24 hours the caller may see, by its family: a
    wristband's heart rate and blood pressure (to those who see vitals) or battery, a lock's
    battery, a charger's power, a gate's passes per hour."""
    device = await _visible_device(conn, scope, device_id)
    charts = charts_for(device.family, sees_vitals(scope, device.household_id))
    return DeviceCharts(
        device_id=device_id,
        charts=[DeviceChartInfo(name=c.name, title=reader.text(c.label)) for c in charts],
    )


@router.get("/{device_id}/charts/{chart}.svg", response_class=Response, responses=SVG_ANSWER)
async def device_chart(
    scope: UserScope,
    conn: Conn,
    ctx: Context,
    reader: CurrentReader,
    device_id: Annotated[str, Path(max_length=128)],
    chart: Annotated[str, Path(max_length=32, description="a name from .../charts")],
) -> Response:
    """One of the device's charts over the last 24 hours, drawn by the hub (times in the
    caller's community's zone)."""
    device = await _visible_device(conn, scope, device_id)
    found = {c.name: c for c in charts_for(device.family, sees_vitals(scope, device.household_id))}
    if chart not in found:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            reader.text(N_("no chart %(name)s of this device for you"), name=repr(chart)),
        )
    until = datetime.now(UTC)
    since = until - _DEFAULT_SPAN
    zone = await community_zone(conn, scope.community_id) or "UTC"
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    resolution = choose_resolution(
        since, until, until, Retention.from_settings(ctx.settings.telemetry)
    )
    svg = await draw_device_chart(
        conn,
        device_id,
        found[chart],
        since=since,
        until=until,
        resolution=resolution,
        tz=tz,
        language=reader.language,
    )
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})
