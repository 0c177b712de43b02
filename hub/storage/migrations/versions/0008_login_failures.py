"""login_failures and login_known_addresses: failed-login limits shared by every API process

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-09 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.storage.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failed_at", hub.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_login_failures_username_address",
            ["username", "address", "failed_at"],
            unique=False,
        )
        batch_op.create_index("ix_login_failures_username", ["username", "failed_at"], unique=False)
        batch_op.create_index("ix_login_failures_address", ["address", "failed_at"], unique=False)
        batch_op.create_index("ix_login_failures_failed_at", ["failed_at"], unique=False)
    op.create_table(
        "login_known_addresses",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("last_login_at", hub.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", "address", name=op.f("pk_login_known_addresses")),
    )
    with op.batch_alter_table("login_known_addresses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_known_addresses_last_login_at"), ["last_login_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("login_known_addresses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_known_addresses_last_login_at"))
    op.drop_table("login_known_addresses")
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failures_failed_at")
        batch_op.drop_index("ix_login_failures_address")
        batch_op.drop_index("ix_login_failures_username")
        batch_op.drop_index("ix_login_failures_username_address")
    op.drop_table("login_failures")
