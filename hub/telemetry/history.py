"""The embedded history: points stored in batches, rolled up, pruned, read back for charts.

Rollups are recomputed from their source rows (raw points for 5 minutes, 5-minute
rollups for an hour), never incremented, for every bucket that received a row
within the lookback window. Running maintenance twice, or in two hub processes
at once, therefore writes the same numbers: it is idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.schema.telemetry import telemetry_points, telemetry_rollups
from hub.settings import TelemetrySettings
from hub.storage.upsert import insert_ignoring_duplicates
from hub.telemetry.models import TelemetryPoint

Resolution = Literal["raw", "5m", "1h"]
BUCKET_MS: dict[str, int] = {"5m": 5 * 60_000, "1h": 60 * 60_000}
_DAY_MS = 24 * 3600 * 1000
_SERIES_COLUMNS = ("device_id", "measurement", "field", "series")


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def point_rows(points: Sequence[TelemetryPoint], stored_ms: int) -> list[dict[str, Any]]:
    """One row per field of each point."""
    return [
        {
            "device_id": p.device_id,
            "measurement": p.measurement,
            "field": name,
            "series": p.series,
            "ts_ms": to_ms(p.time),
            "value": value,
            "community_id": p.community_id,
            "stored_ms": stored_ms,
        }
        for p in points
        for name, value in p.fields
    ]


async def store_points(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    # A redelivered reading has the same key and is skipped.
    await insert_ignoring_duplicates(conn, telemetry_points, rows)


@dataclass(frozen=True)
class Retention:
    raw_ms: int
    five_min_ms: int
    hourly_ms: int
    lookback_ms: int

    @classmethod
    def from_settings(cls, telemetry: TelemetrySettings) -> Retention:
        return cls(
            raw_ms=int(telemetry.history_raw_days * _DAY_MS),
            five_min_ms=int(telemetry.history_5m_days * _DAY_MS),
            hourly_ms=int(telemetry.history_1h_days * _DAY_MS),
            lookback_ms=int(telemetry.rollup_lookback_s * 1000),
        )


@dataclass
class MaintenanceResult:
    five_min_buckets: int = 0
    hourly_buckets: int = 0
    pruned_points: int = 0
    pruned_rollups: int = 0


def _insert(conn: AsyncConnection) -> Any:
    if conn.dialect.name == "sqlite":
        return sqlite.insert(telemetry_rollups)
    if conn.dialect.name == "postgresql":
        return postgresql.insert(telemetry_rollups)
    raise NotImplementedError(f"no telemetry rollups for {conn.dialect.name}")  # pragma: no cover


async def _roll_up(
    conn: AsyncConnection,
    resolution: str,
    source: sa.FromClause,
    *,
    changed_since: sa.ColumnElement[bool],
    aggregates: tuple[sa.ColumnElement[Any], ...],
    oldest_bucket_ms: int,
    now_ms: int,
) -> int:
    """Recompute ``resolution`` buckets of every series with a source row changed lately."""
    size = BUCKET_MS[resolution]
    time_column = source.c.ts_ms if "ts_ms" in source.c else source.c.bucket_ms
    bucket = (time_column - time_column % size).label("bucket_ms")
    keys = [source.c[name] for name in _SERIES_COLUMNS]
    touched = sa.select(*keys, bucket).where(changed_since, bucket >= oldest_bucket_ms).distinct()
    select = (
        sa.select(
            sa.literal(resolution).label("resolution"),
            *keys,
            bucket,
            sa.func.max(source.c.community_id).label("community_id"),
            *aggregates,
            sa.literal(now_ms, sa.BigInteger).label("updated_ms"),
        )
        .where(sa.tuple_(*keys, bucket).in_(touched))
        .group_by(*keys, bucket)
    )
    columns = [
        "resolution",
        *_SERIES_COLUMNS,
        "bucket_ms",
        "community_id",
        "min_value",
        "max_value",
        "sum_value",
        "count",
        "updated_ms",
    ]
    stmt = _insert(conn).from_select(columns, select)
    stmt = stmt.on_conflict_do_update(
        index_elements=["resolution", *_SERIES_COLUMNS, "bucket_ms"],
        set_={name: stmt.excluded[name] for name in columns[6:]},
    )
    result = await conn.execute(stmt)
    return max(result.rowcount or 0, 0)


async def maintain(conn: AsyncConnection, now: datetime, retention: Retention) -> MaintenanceResult:
    """Roll up what changed within the lookback, then drop what is past its retention."""
    now_ms = to_ms(now)
    since = now_ms - retention.lookback_ms
    result = MaintenanceResult()
    raw = telemetry_points.alias("raw")
    result.five_min_buckets = await _roll_up(
        conn,
        "5m",
        raw,
        changed_since=raw.c.stored_ms >= since,
        aggregates=(
            sa.func.min(raw.c.value).label("min_value"),
            sa.func.max(raw.c.value).label("max_value"),
            sa.func.sum(raw.c.value).label("sum_value"),
            sa.func.count().label("count"),
        ),
        # A bucket partly pruned already would be recomputed from half its points.
        oldest_bucket_ms=now_ms - retention.raw_ms + BUCKET_MS["5m"],
        now_ms=now_ms,
    )
    five = telemetry_rollups.alias("five")
    five_rows = sa.select(five).where(five.c.resolution == "5m").subquery("five_min")
    result.hourly_buckets = await _roll_up(
        conn,
        "1h",
        five_rows,
        changed_since=five_rows.c.updated_ms >= since,
        aggregates=(
            sa.func.min(five_rows.c.min_value).label("min_value"),
            sa.func.max(five_rows.c.max_value).label("max_value"),
            sa.func.sum(five_rows.c.sum_value).label("sum_value"),
            sa.func.sum(five_rows.c.count).label("count"),
        ),
        oldest_bucket_ms=now_ms - retention.five_min_ms + BUCKET_MS["1h"],
        now_ms=now_ms,
    )
    pruned = await conn.execute(
        telemetry_points.delete().where(telemetry_points.c.ts_ms < now_ms - retention.raw_ms)
    )
    result.pruned_points = max(pruned.rowcount or 0, 0)
    for resolution, keep in (("5m", retention.five_min_ms), ("1h", retention.hourly_ms)):
        pruned = await conn.execute(
            telemetry_rollups.delete().where(
                telemetry_rollups.c.resolution == resolution,
                telemetry_rollups.c.bucket_ms < now_ms - keep,
            )
        )
        result.pruned_rollups += max(pruned.rowcount or 0, 0)
    return result


@dataclass(frozen=True)
class SeriesValue:
    """One chart point: a raw reading (min = avg = max, count 1) or a bucket's summary."""

    t: datetime
    min: float
    avg: float
    max: float
    count: int


@dataclass(frozen=True)
class Series:
    tags: dict[str, str]
    values: list[SeriesValue]


def _tags(series: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in series.split(",") if "=" in part)


def choose_resolution(
    since: datetime, until: datetime, now: datetime, retention: Retention
) -> Resolution:
    """The finest resolution that covers the range and still holds data that old."""
    span_ms = to_ms(until) - to_ms(since)
    age_ms = to_ms(now) - to_ms(since)
    if span_ms <= _DAY_MS and age_ms <= retention.raw_ms:
        return "raw"
    if span_ms <= 7 * _DAY_MS and age_ms <= retention.five_min_ms:
        return "5m"
    return "1h"


async def read_series(
    conn: AsyncConnection,
    *,
    device_id: str,
    measurement: str,
    field: str,
    since: datetime,
    until: datetime,
    resolution: str,
    limit: int,
) -> list[Series]:
    """Values of one field of one device between ``since`` and ``until``, per series."""
    by_series: dict[str, list[SeriesValue]] = {}
    if resolution == "raw":
        p = telemetry_points
        rows = await conn.execute(
            sa.select(p.c.series, p.c.ts_ms, p.c.value)
            .where(
                p.c.device_id == device_id,
                p.c.measurement == measurement,
                p.c.field == field,
                p.c.ts_ms >= to_ms(since),
                p.c.ts_ms <= to_ms(until),
            )
            .order_by(p.c.ts_ms)
            .limit(limit)
        )
        for row in rows:
            value = float(row.value)
            by_series.setdefault(row.series, []).append(
                SeriesValue(from_ms(row.ts_ms), value, value, value, 1)
            )
    else:
        r = telemetry_rollups
        rows = await conn.execute(
            sa.select(r)
            .where(
                r.c.resolution == resolution,
                r.c.device_id == device_id,
                r.c.measurement == measurement,
                r.c.field == field,
                r.c.bucket_ms >= to_ms(since) - BUCKET_MS[resolution] + 1,
                r.c.bucket_ms <= to_ms(until),
            )
            .order_by(r.c.bucket_ms)
            .limit(limit)
        )
        for row in rows:
            by_series.setdefault(row.series, []).append(
                SeriesValue(
                    from_ms(row.bucket_ms),
                    float(row.min_value),
                    float(row.sum_value) / int(row._mapping["count"]),
                    float(row.max_value),
                    int(row._mapping["count"]),
                )
            )
    return [Series(_tags(key), values) for key, values in sorted(by_series.items())]
