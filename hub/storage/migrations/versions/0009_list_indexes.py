"""Indexes for lists: a community's tickets by status and by level, devices by family

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain CREATE INDEX: nothing about the table changes, so no batch copy of it.
    op.create_index("ix_tickets_community_status", "tickets", ["community_id", "status", "id"])
    op.create_index("ix_tickets_community_level", "tickets", ["community_id", "level", "id"])
    op.create_index("ix_devices_family", "devices", ["family", "id"])


def downgrade() -> None:
    op.drop_index("ix_devices_family", table_name="devices")
    op.drop_index("ix_tickets_community_level", table_name="tickets")
    op.drop_index("ix_tickets_community_status", table_name="tickets")
