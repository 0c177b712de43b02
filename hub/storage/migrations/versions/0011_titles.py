"""Alarm and ticket titles in every language a reader may choose

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL on what is already there: readers get the stored title (the community's language).
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("titles", sa.JSON(), nullable=True))
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("titles", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("titles")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("titles")
