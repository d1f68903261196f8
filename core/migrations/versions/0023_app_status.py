"""An app's status: active, suspended by a platform admin (with the reason), or deleted by
its developer

Revision ID: 0023_app_status
Revises: 0022_app_tenant_details
Create Date: 2026-12-02 01:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.kernel.models

revision: str = "0023_app_status"
down_revision: str | Sequence[str] | None = "0022_app_tenant_details"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=20), server_default="active", nullable=False)
        )
        batch_op.add_column(sa.Column("status_reason", sa.String(length=500), nullable=True))
        batch_op.add_column(
            sa.Column("status_changed_at", core.kernel.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_check_constraint(
            op.f("ck_apps_status"), "status IN ('active', 'suspended', 'deleted')"
        )


def downgrade() -> None:
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_apps_status"), type_="check")
        batch_op.drop_column("status_changed_at")
        batch_op.drop_column("status_reason")
        batch_op.drop_column("status")
