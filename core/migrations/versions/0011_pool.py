"""The public customer pool: customers without an owner, pool rules per business

Revision ID: 0011_pool
Revises: 0013_leads
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.kernel.models
from core.migrations.rls import enable_tenant_rls

revision: str = "0011_pool"
down_revision: str | Sequence[str] | None = "0013_leads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Moment = core.kernel.models.UTCDateTime(timezone=True)
_MOMENTS = ("last_deal_at", "assigned_at", "pool_noticed_at", "pool_entered_at")


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.alter_column("owner_id", existing_type=sa.Uuid(), nullable=True)
        for name in _MOMENTS:
            batch_op.add_column(sa.Column(name, Moment, nullable=True))
        batch_op.add_column(sa.Column("pool_reason", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("pool_note", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("pool_released_by", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("pool_previous_owner_id", sa.Uuid(), nullable=True))
    # The pool's clock starts when the current owner got the customer: for existing ones, at
    # their creation (the best we know).
    op.execute("UPDATE customers SET assigned_at = created_at")

    op.create_table(
        "customer_pool_rules",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("follow_up_days", core.kernel.models.JSONType, nullable=False),
        sa.Column("default_follow_up_days", sa.Integer(), nullable=True),
        sa.Column("no_deal_days", sa.Integer(), nullable=True),
        sa.Column("notice_days", sa.Integer(), nullable=False),
        sa.Column("max_owned_customers", sa.Integer(), nullable=True),
        sa.Column("updated_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_customer_pool_rules_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_customer_pool_rules")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_customer_pool_rules_tenant_id")),
    )
    enable_tenant_rls("customer_pool_rules")


def downgrade() -> None:
    op.drop_table("customer_pool_rules")
    # Fails while customers are in the pool: give them owners first (nothing is deleted here).
    with op.batch_alter_table("customers", schema=None) as batch_op:
        for name in ("pool_previous_owner_id", "pool_released_by", "pool_note", "pool_reason", *_MOMENTS):
            batch_op.drop_column(name)
        batch_op.alter_column("owner_id", existing_type=sa.Uuid(), nullable=False)
