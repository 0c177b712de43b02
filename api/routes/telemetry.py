"""A device's telemetry history for the dashboard's charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import AwareDatetime, BaseModel

from api.deps import Conn, Context
from api.errors import invalid_input
from api.security import UserScope
from hub.access.scope import sees_vitals
from hub.devices.service import get_device
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
        raise invalid_input(
            "query",
            "field",
            f"{measurement} has no field {field!r}; fields: {', '.join(SCHEMA[measurement])}",
        )
    now = datetime.now(UTC)
    until = until or now
    since = since or until - _DEFAULT_SPAN
    if since >= until:
        raise invalid_input("query", "until", "must be after since")
    device = await get_device(conn, scope, device_id)
    if device is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {device_id!r} visible to you")
    if measurement == "vitals" and not sees_vitals(scope, device.household_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "health readings are not shown to your role")
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
