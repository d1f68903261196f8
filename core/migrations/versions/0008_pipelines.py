"""Sales pipelines and their stages

Revision ID: 0008_pipelines
Revises: 0005_safe_writes
Create Date: 2026-11-23 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.kernel.models
from core.migrations.rls import enable_tenant_rls

revision: str = "0008_pipelines"
down_revision: str | Sequence[str] | None = "0005_safe_writes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("archived_at", core.kernel.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", core.kernel.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_pipelines_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_pipelines")),
    )
    # One default pipeline per tenant, enforced by the database.
    op.create_index(
        "uq_pipelines_one_default",
        "pipelines",
        ["tenant_id"],
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    )
    enable_tenant_rls("pipelines")

    op.create_table(
        "pipeline_stages",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("rotting_days", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "probability BETWEEN 0 AND 100", name=op.f("ck_pipeline_stages_probability_percent")
        ),
        sa.CheckConstraint("kind IN ('open', 'won', 'lost')", name=op.f("ck_pipeline_stages_kind")),
        sa.CheckConstraint(
            "rotting_days IS NULL OR rotting_days > 0", name=op.f("ck_pipeline_stages_rotting_days_positive")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "pipeline_id"],
            ["pipelines.tenant_id", "pipelines.id"],
            name=op.f("fk_pipeline_stages_tenant_id_pipelines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_pipeline_stages_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_pipeline_stages")),
    )
    op.create_index(
        "ix_pipeline_stages_pipeline",
        "pipeline_stages",
        ["tenant_id", "pipeline_id", "position"],
        unique=False,
    )
    enable_tenant_rls("pipeline_stages")


def downgrade() -> None:
    op.drop_index("ix_pipeline_stages_pipeline", table_name="pipeline_stages")
    op.drop_table("pipeline_stages")
    op.drop_index("uq_pipelines_one_default", table_name="pipelines")
    op.drop_table("pipelines")
