"""creditcheck: the credit check requests table

Revision ID: creditcheck_0001
Revises:
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from plugins.sdk.models import UTCDateTime, enable_tenant_rls

revision: str = "creditcheck_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("creditcheck",)
depends_on: str | Sequence[str] | None = "0016_plugins"


def upgrade() -> None:
    op.create_table(
        "creditcheck_requests",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_creditcheck_requests_tenant_id_tenants",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_creditcheck_requests"),
        sa.UniqueConstraint("tenant_id", "customer_id", name="uq_creditcheck_requests_tenant_id_customer_id"),
    )
    enable_tenant_rls("creditcheck_requests")


def downgrade() -> None:
    op.drop_table("creditcheck_requests")
