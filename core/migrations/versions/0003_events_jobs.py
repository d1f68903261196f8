"""Events and jobs: outbox, processed messages, dead letters, periodic schedules

These are platform tables (read across tenants by the relay, the scheduler and platform
admins), so they are not tenant-owned and carry no RLS; ``tenant_ref`` names the tenant a
message runs for.

Revision ID: 0003_events_jobs
Revises: 0002_audit
Create Date: 2026-11-23 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.kernel.models

revision: str = "0003_events_jobs"
down_revision: str | Sequence[str] | None = "0002_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_ref", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("payload", core.kernel.models.JSONType, nullable=False),
        sa.Column("only_handler", sa.String(length=200), nullable=True),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", core.kernel.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", core.kernel.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_ref"],
            ["tenants.id"],
            name=op.f("fk_outbox_messages_tenant_ref_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
    )
    op.create_index("ix_outbox_messages_pending", "outbox_messages", ["dispatched_at", "id"], unique=False)
    op.create_table(
        "processed_messages",
        sa.Column("handler", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_ref", sa.Uuid(), nullable=True),
        sa.Column("processed_at", core.kernel.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_ref"],
            ["tenants.id"],
            name=op.f("fk_processed_messages_tenant_ref_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("handler", "message_id", name=op.f("pk_processed_messages")),
    )
    op.create_index(
        op.f("ix_processed_messages_processed_at"), "processed_messages", ["processed_at"], unique=False
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_ref", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("actor", sa.String(length=210), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("payload", core.kernel.models.JSONType, nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", core.kernel.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", core.kernel.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_ref"],
            ["tenants.id"],
            name=op.f("fk_dead_letters_tenant_ref_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_table(
        "periodic_schedules",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("next_run_at", core.kernel.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", core.kernel.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_fired_by", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_periodic_schedules")),
    )


def downgrade() -> None:
    op.drop_table("periodic_schedules")
    op.drop_table("dead_letters")
    op.drop_index(op.f("ix_processed_messages_processed_at"), table_name="processed_messages")
    op.drop_table("processed_messages")
    op.drop_index("ix_outbox_messages_pending", table_name="outbox_messages")
    op.drop_table("outbox_messages")
