"""Duty rota: who is on duty in which grid, on which weekdays and hours (community local time)."""

from __future__ import annotations

import sqlalchemy as sa

from hub.schema.base import metadata

duty_rota = sa.Table(
    "duty_rota",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("grid_id", sa.ForeignKey("grids.id"), nullable=False, index=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("position", sa.String(16), nullable=False),  # primary | backup | grid_worker
    sa.Column("weekday", sa.Integer),  # 0 = Monday; NULL = every day
    sa.Column("start_minute", sa.Integer, nullable=False),  # minutes after local midnight
    sa.Column("end_minute", sa.Integer, nullable=False),  # <= start_minute: runs past midnight
    sa.CheckConstraint("position IN ('primary', 'backup', 'grid_worker')", name="position"),
    sa.CheckConstraint("weekday IS NULL OR (weekday BETWEEN 0 AND 6)", name="weekday"),
    sa.CheckConstraint("start_minute BETWEEN 0 AND 1439", name="start_minute"),
    sa.CheckConstraint("end_minute BETWEEN 0 AND 1440", name="end_minute"),
)
