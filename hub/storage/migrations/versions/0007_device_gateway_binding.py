"""devices.gateway_id: the gateway a device is registered behind (who may speak for it)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gateway_id", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_devices_gateway_id"), ["gateway_id"], unique=False)
    # A device already heard from stays with the gateway it was last heard on.
    op.execute("UPDATE devices SET gateway_id = last_gateway_id WHERE gateway_id IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_gateway_id"))
        batch_op.drop_column("gateway_id")
