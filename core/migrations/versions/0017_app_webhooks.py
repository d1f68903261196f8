"""Apps' webhooks: each app's signing secret (wrapped by the master key), the relay's
mirror of active installations, one endpoint per installation

Revision ID: 0017_app_webhooks
Revises: 0015_webhooks
Create Date: 2026-12-01 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.kernel.models

revision: str = "0017_app_webhooks"
down_revision: str | Sequence[str] | None = "0015_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Moment = core.kernel.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.add_column(sa.Column("webhook_secret", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("webhook_secret_key_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("webhook_secret_prefix", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("webhook_previous_secret", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("webhook_previous_secret_key_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("webhook_previous_secret_expires_at", Moment, nullable=True))
    op.create_table(
        "app_tenants",
        sa.Column("app_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_ref", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_app_tenants_app_id_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_ref"], ["tenants.id"], name=op.f("fk_app_tenants_tenant_ref_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("app_id", "tenant_ref", name=op.f("pk_app_tenants")),
    )
    op.create_index(op.f("ix_app_tenants_tenant_ref"), "app_tenants", ["tenant_ref"], unique=False)
    # Installations made before this revision (visible to the migration's role: the table
    # owner, unless row-level security is forced on it for that role too).
    op.execute(
        "INSERT INTO app_tenants (app_id, tenant_ref) "
        "SELECT app_id, tenant_id FROM app_installations WHERE uninstalled_at IS NULL"
    )
    op.create_index(
        "uq_webhook_endpoints_tenant_id_owner",
        "webhook_endpoints",
        ["tenant_id", "owner_kind", "owner_ref"],
        unique=True,
        sqlite_where=sa.text("owner_ref IS NOT NULL"),
        postgresql_where=sa.text("owner_ref IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_webhook_endpoints_tenant_id_owner", table_name="webhook_endpoints")
    op.drop_index(op.f("ix_app_tenants_tenant_ref"), table_name="app_tenants")
    op.drop_table("app_tenants")
    with op.batch_alter_table("apps") as batch:
        for column in (
            "webhook_previous_secret_expires_at",
            "webhook_previous_secret_key_id",
            "webhook_previous_secret",
            "webhook_secret_prefix",
            "webhook_secret_key_id",
            "webhook_secret",
        ):
            batch.drop_column(column)
