"""ticket dispositions: what an alarm ticket's alarm was (genuine, false, pressed by
mistake, a test, a device fault), and when that was said

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.storage.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL on what is already there: tickets resolved before dispositions were asked for.
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("disposition", sa.String(length=16), nullable=True))
        batch.add_column(
            sa.Column("disposed_at", hub.storage.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch.create_index("ix_tickets_alert_disposition", ["alert_id", "disposition"])


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_alert_disposition")
        batch.drop_column("disposed_at")
        batch.drop_column("disposition")
