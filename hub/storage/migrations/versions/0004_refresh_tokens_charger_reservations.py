"""refresh tokens, charger reservations

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 18:05:56.066333
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.storage.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "charger_reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", hub.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", hub.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", hub.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", hub.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'cancelled', 'expired', 'used')",
            name=op.f("ck_charger_reservations_reservation_status"),
        ),
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_charger_reservations_reservation_period")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_charger_reservations_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_charger_reservations_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charger_reservations")),
    )
    with op.batch_alter_table("charger_reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_charger_reservations_device_id"), ["device_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_charger_reservations_user_id"), ["user_id"], unique=False
        )
        batch_op.create_index(
            "ix_one_active_reservation_per_port",
            ["device_id", "port"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )

    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", hub.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", hub.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", hub.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", hub.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_refresh_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refresh_tokens_family"), ["family"], unique=False)
        batch_op.create_index(batch_op.f("ix_refresh_tokens_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_user_id"))
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_family"))

    op.drop_table("refresh_tokens")
    with op.batch_alter_table("charger_reservations", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_one_active_reservation_per_port",
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )
        batch_op.drop_index(batch_op.f("ix_charger_reservations_user_id"))
        batch_op.drop_index(batch_op.f("ix_charger_reservations_device_id"))

    op.drop_table("charger_reservations")
