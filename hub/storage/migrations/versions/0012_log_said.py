"""Ticket log notes kept as message ids and values, said in each reader's language

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL on what is already there: readers get the stored English ``note``.
    with op.batch_alter_table("ticket_log") as batch:
        batch.add_column(sa.Column("said", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket_log") as batch:
        batch.drop_column("said")
