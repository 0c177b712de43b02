"""telemetry history: raw points and 5-minute / hourly rollups

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 20:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SERIES = ("device_id", "measurement", "field", "series")


def _series_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("measurement", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("series", sa.String(length=128), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "telemetry_points",
        *_series_columns(),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("stored_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*_SERIES, "ts_ms", name="pk_telemetry_points"),
    )
    with op.batch_alter_table("telemetry_points", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_telemetry_points_stored_ms"), ["stored_ms"], unique=False
        )
    op.create_table(
        "telemetry_rollups",
        sa.Column("resolution", sa.String(length=4), nullable=False),
        *_series_columns(),
        sa.Column("bucket_ms", sa.BigInteger(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("min_value", sa.Float(), nullable=False),
        sa.Column("max_value", sa.Float(), nullable=False),
        sa.Column("sum_value", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("resolution", *_SERIES, "bucket_ms", name="pk_telemetry_rollups"),
    )
    with op.batch_alter_table("telemetry_rollups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_telemetry_rollups_updated_ms"), ["updated_ms"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("telemetry_rollups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_telemetry_rollups_updated_ms"))
    op.drop_table("telemetry_rollups")
    with op.batch_alter_table("telemetry_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_telemetry_points_stored_ms"))
    op.drop_table("telemetry_points")
