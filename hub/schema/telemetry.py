"""The embedded telemetry history: raw points and their 5-minute and hourly rollups.

Times are integer milliseconds since the epoch: bucketing is then plain integer
arithmetic that SQLite and PostgreSQL compute alike. One row per field, so a
chart of one field reads one index range.
"""

from __future__ import annotations

import sqlalchemy as sa

from hub.schema.base import metadata

# The series key: device, measurement, field and the extra tags ('port=1', or '').
_SERIES = ("device_id", "measurement", "field", "series")

telemetry_points = sa.Table(
    "telemetry_points",
    metadata,
    sa.Column("device_id", sa.String(128), nullable=False),
    sa.Column("measurement", sa.String(32), nullable=False),
    sa.Column("field", sa.String(32), nullable=False),
    sa.Column("series", sa.String(128), nullable=False),
    sa.Column("ts_ms", sa.BigInteger, nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("community_id", sa.Integer),
    # When it was stored: rollups recompute the buckets of recently stored points.
    sa.Column("stored_ms", sa.BigInteger, nullable=False, index=True),
    # The same reading delivered twice is stored once.
    sa.PrimaryKeyConstraint(*_SERIES, "ts_ms", name="pk_telemetry_points"),
)

telemetry_rollups = sa.Table(
    "telemetry_rollups",
    metadata,
    sa.Column("resolution", sa.String(4), nullable=False),  # '5m' or '1h'
    sa.Column("device_id", sa.String(128), nullable=False),
    sa.Column("measurement", sa.String(32), nullable=False),
    sa.Column("field", sa.String(32), nullable=False),
    sa.Column("series", sa.String(128), nullable=False),
    sa.Column("bucket_ms", sa.BigInteger, nullable=False),
    sa.Column("community_id", sa.Integer),
    sa.Column("min_value", sa.Float, nullable=False),
    sa.Column("max_value", sa.Float, nullable=False),
    sa.Column("sum_value", sa.Float, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False, index=True),
    sa.PrimaryKeyConstraint("resolution", *_SERIES, "bucket_ms", name="pk_telemetry_rollups"),
)
