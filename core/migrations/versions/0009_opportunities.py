"""Opportunities and their stage history

Revision ID: 0009_opportunities
Revises: 0011_pool
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.kernel.models
import core.kernel.money
from core.migrations.rls import enable_tenant_rls

revision: str = "0009_opportunities"
down_revision: str | Sequence[str] | None = "0011_pool"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Moment = core.kernel.models.UTCDateTime(timezone=True)


def _fk(table: str, columns: list[str], target: str, **kwargs: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", *columns],
        [f"{target}.tenant_id", f"{target}.id"],
        name=op.f(f"fk_{table}_tenant_id_{'_'.join(columns)}_{target}"),
        **kwargs,
    )


def upgrade() -> None:
    op.create_table(
        "opportunities",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column("amount", core.kernel.money.MoneyAmount(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expected_close_date", sa.Date(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(length=80), nullable=True),
        sa.Column("products", core.kernel.models.JSONType, nullable=False),
        sa.Column("forecast_category", sa.String(length=20), nullable=True),
        sa.Column("custom_fields", core.kernel.models.JSONType, nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("won_at", Moment, nullable=True),
        sa.Column("lost_at", Moment, nullable=True),
        sa.Column("lost_reason", sa.String(length=500), nullable=True),
        sa.Column("stage_entered_at", Moment, nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_opportunities_tenant_id_tenants"), ondelete="CASCADE"
        ),
        _fk("opportunities", ["customer_id"], "customers"),
        _fk("opportunities", ["pipeline_id"], "pipelines"),
        _fk("opportunities", ["stage_id"], "pipeline_stages"),
        sa.CheckConstraint("status IN ('open', 'won', 'lost')", name=op.f("ck_opportunities_status")),
        sa.CheckConstraint(
            "forecast_category IS NULL"
            " OR forecast_category IN ('commit', 'best_case', 'pipeline', 'omitted')",
            name=op.f("ck_opportunities_forecast_category"),
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_opportunities_amount_not_negative")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_opportunities")),
    )
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.create_index("ix_opportunities_tenant_id_owner_id", ["tenant_id", "owner_id"], unique=False)
        batch_op.create_index(
            "ix_opportunities_tenant_id_customer_id", ["tenant_id", "customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_opportunities_tenant_id_stage_id", ["tenant_id", "stage_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_opportunities_tenant_id_pipeline_id", ["tenant_id", "pipeline_id", "status"], unique=False
        )
    enable_tenant_rls("opportunities")

    op.create_table(
        "opportunity_stage_history",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("opportunity_id", sa.Uuid(), nullable=False),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column("entered_at", Moment, nullable=False),
        sa.Column("left_at", Moment, nullable=True),
        sa.Column("moved_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_opportunity_stage_history_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        _fk("opportunity_stage_history", ["opportunity_id"], "opportunities", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_opportunity_stage_history")),
    )
    with op.batch_alter_table("opportunity_stage_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_opportunity_stage_history_opportunity",
            ["tenant_id", "opportunity_id", "entered_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_opportunity_stage_history_pipeline", ["tenant_id", "pipeline_id", "stage_id"], unique=False
        )
    enable_tenant_rls("opportunity_stage_history")


def downgrade() -> None:
    op.drop_table("opportunity_stage_history")
    op.drop_table("opportunities")
