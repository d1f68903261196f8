"""The permission catalogue that tenants' seeded roles are kept in step with

Revision ID: 0018_permission_catalogue
Revises: 0017_app_webhooks
Create Date: 2026-12-01 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.kernel.models

revision: str = "0018_permission_catalogue"
down_revision: str | Sequence[str] | None = "0017_app_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Moment = core.kernel.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "permission_catalogue",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("permissions", core.kernel.models.JSONType, nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_permission_catalogue")),
    )


def downgrade() -> None:
    op.drop_table("permission_catalogue")
