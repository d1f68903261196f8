"""Activities, tasks and the customer timeline

Revision ID: 0010_activities
Revises: 0006_customers
Create Date: 2026-11-23 14:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.kernel.models
from core.migrations.rls import enable_tenant_rls

revision: str = "0010_activities"
down_revision: str | Sequence[str] | None = "0006_customers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, core.kernel.models.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject_type", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        _when("occurred_at", nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=80), nullable=True),
        _when("due_at"),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("priority", sa.String(length=10), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=True),
        _when("completed_at"),
        _when("remind_at"),
        _when("reminded_at"),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "kind IN ('call', 'meeting', 'visit', 'note', 'email', 'task')", name=op.f("ck_activities_kind")
        ),
        sa.CheckConstraint(
            "status IS NULL OR status IN ('open', 'done', 'cancelled')", name=op.f("ck_activities_status")
        ),
        sa.CheckConstraint(
            "duration_minutes IS NULL OR duration_minutes >= 0", name=op.f("ck_activities_duration_positive")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_activities_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_activities")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activities_tenant_id_customer_id", ["tenant_id", "customer_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            "ix_activities_tenant_id_subject", ["tenant_id", "subject_type", "subject_id"], unique=False
        )
        batch_op.create_index("ix_activities_tenant_id_owner_id", ["tenant_id", "owner_id"], unique=False)
        batch_op.create_index(
            "ix_activities_tenant_id_assignee_id", ["tenant_id", "assignee_id", "status"], unique=False
        )
        batch_op.create_index("ix_activities_tenant_id_remind_at", ["tenant_id", "remind_at"], unique=False)
    enable_tenant_rls("activities")

    op.create_table(
        "timeline_entries",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=120), nullable=False),
        _when("occurred_at", nullable=False),
        sa.Column("data", core.kernel.models.JSONType, nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("ref_type", sa.String(length=40), nullable=True),
        sa.Column("ref_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_timeline_entries_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_timeline_entries")),
        sa.UniqueConstraint("tenant_id", "event_id", name=op.f("uq_timeline_entries_tenant_id_event_id")),
    )
    with op.batch_alter_table("timeline_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_timeline_entries_tenant_id_customer_id",
            ["tenant_id", "customer_id", "occurred_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_timeline_entries_tenant_id_ref", ["tenant_id", "ref_type", "ref_id"], unique=False
        )
    enable_tenant_rls("timeline_entries")


def downgrade() -> None:
    op.drop_table("timeline_entries")
    op.drop_table("activities")
