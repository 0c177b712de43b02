"""Languages: each community's default (zh-CN), and a person's own choice

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("communities") as batch:
        batch.add_column(sa.Column("locale", sa.String(16), nullable=False, server_default="zh-CN"))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("locale", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("locale")
    with op.batch_alter_table("communities") as batch:
        batch.drop_column("locale")
