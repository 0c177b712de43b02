"""alarm rules, timers, escalations, co-handlers, points, signs of life

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 13:49:37.638052
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.storage.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("due_at", hub.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", hub.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("fired_at", hub.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("fired_by", sa.String(length=64), nullable=True),
        sa.Column("cancelled_at", hub.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=300), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timers")),
        sa.UniqueConstraint("key", name=op.f("uq_timers_key")),
    )
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_timers_due_at"), ["due_at"], unique=False)

    op.create_table(
        "access_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "kind IN ('card_no', 'employee_no')", name=op.f("ck_access_credentials_kind")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_access_credentials_resident_id_residents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_credentials")),
        sa.UniqueConstraint("kind", "value", name="one_owner"),
    )
    with op.batch_alter_table("access_credentials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_access_credentials_resident_id"), ["resident_id"], unique=False
        )

    op.create_table(
        "resident_activity",
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("last_door_at", hub.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_movement_at", hub.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_steps", sa.Integer(), nullable=True),
        sa.Column("last_steps_device", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_resident_activity_resident_id_residents"),
        ),
        sa.PrimaryKeyConstraint("resident_id", name=op.f("pk_resident_activity")),
    )
    op.create_table(
        "community_rules",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", hub.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_community_rules_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_community_rules_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("community_id", name=op.f("pk_community_rules")),
    )
    op.create_table(
        "escalations",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("chain", sa.String(length=64), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", hub.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hub.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_escalations_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_escalations")),
    )
    op.create_table(
        "points_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=300), server_default="", nullable=False),
        sa.Column("at", hub.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_points_ledger_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_points_ledger_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_points_ledger_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_ledger")),
        sa.UniqueConstraint("user_id", "ticket_id", "reason", name="one_award_per_reason"),
    )
    with op.batch_alter_table("points_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_points_ledger_ticket_id"), ["ticket_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_points_ledger_user_id"), ["user_id"], unique=False)

    op.create_table(
        "ticket_handlers",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.Integer(), nullable=True),
        sa.Column("added_at", hub.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=300), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by"], ["users.id"], name=op.f("fk_ticket_handlers_added_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_handlers_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ticket_handlers_user_id_users")
        ),
        sa.PrimaryKeyConstraint("ticket_id", "user_id", name=op.f("pk_ticket_handlers")),
    )
    with op.batch_alter_table("ticket_handlers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_handlers_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("silent", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("rule_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cleared_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("clear_reason", sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_alerts_acknowledged_by_users"), "users", ["acknowledged_by"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_alerts_cleared_by_users"), "users", ["cleared_by"], ["id"]
        )

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("description", sa.String(length=2000), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("level", sa.String(length=16), server_default="grid", nullable=False)
        )
        batch_op.add_column(
            sa.Column("confidential", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "response_overdue_at", hub.storage.types.UtcDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "resolve_overdue_at", hub.storage.types.UtcDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("closed_at", hub.storage.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("rating", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reporter_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("reporter_phone", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("reported_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_tickets_reported_by_users"), "users", ["reported_by"], ["id"]
        )
        batch_op.create_check_constraint(op.f("ck_tickets_level"), "level IN ('grid', 'community')")

    # Grid workers join the rota beside primary and backup volunteers.
    with op.batch_alter_table("duty_rota", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_duty_rota_position"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_duty_rota_position"), "position IN ('primary', 'backup', 'grid_worker')"
        )


def downgrade() -> None:
    with op.batch_alter_table("duty_rota", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_duty_rota_position"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_duty_rota_position"), "position IN ('primary', 'backup')"
        )

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_tickets_level"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_tickets_reported_by_users"), type_="foreignkey")
        batch_op.drop_column("reported_by")
        batch_op.drop_column("reporter_phone")
        batch_op.drop_column("reporter_name")
        batch_op.drop_column("rating")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("resolve_overdue_at")
        batch_op.drop_column("response_overdue_at")
        batch_op.drop_column("confidential")
        batch_op.drop_column("level")
        batch_op.drop_column("description")

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_alerts_cleared_by_users"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_alerts_acknowledged_by_users"), type_="foreignkey")
        batch_op.drop_column("clear_reason")
        batch_op.drop_column("cleared_by")
        batch_op.drop_column("acknowledged_by")
        batch_op.drop_column("rule_id")
        batch_op.drop_column("silent")

    with op.batch_alter_table("ticket_handlers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_handlers_user_id"))

    op.drop_table("ticket_handlers")
    with op.batch_alter_table("points_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_points_ledger_user_id"))
        batch_op.drop_index(batch_op.f("ix_points_ledger_ticket_id"))

    op.drop_table("points_ledger")
    op.drop_table("escalations")
    op.drop_table("community_rules")
    op.drop_table("resident_activity")
    with op.batch_alter_table("access_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_credentials_resident_id"))

    op.drop_table("access_credentials")
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timers_due_at"))

    op.drop_table("timers")
