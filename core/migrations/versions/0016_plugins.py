"""Per-tenant plugin enablement and configuration; the relay's plugin subscriptions

Revision ID: 0016_plugins
Revises: 0012_imports
Create Date: 2026-12-01 12:00:00

Plugins' own migration branches depend on this revision (``depends_on="0016_plugins"``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.kernel.models
from core.migrations.rls import enable_tenant_rls

revision: str = "0016_plugins"
down_revision: str | Sequence[str] | None = "0012_imports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Moment = core.kernel.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tenant_plugins",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("config", core.kernel.models.JSONType, nullable=False),
        sa.Column("secrets", sa.LargeBinary(), nullable=True),
        sa.Column("paused_at", Moment, nullable=True),
        sa.Column("pause_reason", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_plugins_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_tenant_plugins")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_tenant_plugins_tenant_id_name")),
    )
    enable_tenant_rls("tenant_plugins")
    op.create_table(
        "plugin_subscriptions",
        sa.Column("tenant_ref", sa.Uuid(), nullable=False),
        sa.Column("plugin", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_ref"],
            ["tenants.id"],
            name=op.f("fk_plugin_subscriptions_tenant_ref_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_ref", "plugin", name=op.f("pk_plugin_subscriptions")),
    )


def downgrade() -> None:
    op.drop_table("plugin_subscriptions")
    op.drop_table("tenant_plugins")
