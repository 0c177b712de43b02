"""notification outbox: notifications stored with the transaction that produced them

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.storage.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_UNDELIVERED = "delivered_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", hub.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("delivered_at", hub.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("delivered_to", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claimed_by", sa.String(length=80), nullable=True),
        sa.Column("claimed_until", hub.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_outbox")),
        sa.UniqueConstraint("notification_id", name=op.f("uq_notification_outbox_notification_id")),
        # Ids are never handed out twice, even after the newest rows were purged.
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notification_outbox_due",
            ["claimed_until"],
            unique=False,
            sqlite_where=sa.text(_UNDELIVERED),
            postgresql_where=sa.text(_UNDELIVERED),
        )
        batch_op.create_index("ix_notification_outbox_created_at", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_outbox_created_at")
        batch_op.drop_index(
            "ix_notification_outbox_due",
            sqlite_where=sa.text(_UNDELIVERED),
            postgresql_where=sa.text(_UNDELIVERED),
        )
    op.drop_table("notification_outbox")
