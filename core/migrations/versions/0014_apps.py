"""Out-of-process apps: registered apps (OAuth clients), installations, codes and tokens

Revision ID: 0014_apps
Revises: 0016_plugins
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.kernel.models
from core.migrations.rls import enable_owner_writes_rls, enable_tenant_rls

revision: str = "0014_apps"
down_revision: str | Sequence[str] | None = "0016_plugins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Moment = core.kernel.models.UTCDateTime(timezone=True)
Json = core.kernel.models.JSONType


def _keys(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"pk_{table}")),
    ]


def _installation(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("installation_id", sa.Uuid(), nullable=False),
        sa.Column("app_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "installation_id"],
            ["app_installations.tenant_id", "app_installations.id"],
            name=op.f(f"fk_{table}_tenant_id_installation_id_app_installations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f(f"fk_{table}_app_id_apps"), ondelete="CASCADE"
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "apps",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("developer_tenant_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("client_type", sa.String(length=20), nullable=False),
        sa.Column("client_secret_hash", sa.String(length=64), nullable=True),
        sa.Column("secret_prefix", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("homepage_url", sa.String(length=500), nullable=True),
        sa.Column("redirect_uris", Json, nullable=False),
        sa.Column("scopes", Json, nullable=False),
        sa.Column("webhook_url", sa.String(length=500), nullable=True),
        sa.Column("webhook_events", Json, nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("secret_rotated_at", Moment, nullable=True),
        sa.CheckConstraint("client_type IN ('confidential', 'public')", name=op.f("ck_apps_client_type")),
        sa.ForeignKeyConstraint(
            ["developer_tenant_id"],
            ["tenants.id"],
            name=op.f("fk_apps_developer_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_apps_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps")),
        sa.UniqueConstraint("client_id", name=op.f("uq_apps_client_id")),
    )
    op.create_index(op.f("ix_apps_developer_tenant_id"), "apps", ["developer_tenant_id"], unique=False)
    enable_owner_writes_rls("apps", "developer_tenant_id")

    op.create_table(
        "app_installations",
        *_keys("app_installations"),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("app_id", sa.Uuid(), nullable=False),
        sa.Column("granted_scopes", Json, nullable=False),
        sa.Column("installed_by", sa.Uuid(), nullable=False),
        sa.Column("installed_at", Moment, nullable=False),
        sa.Column("uninstalled_at", Moment, nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_app_installations_app_id_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["installed_by"], ["users.id"], name=op.f("fk_app_installations_installed_by_users")
        ),
        sa.UniqueConstraint("tenant_id", "app_id", name=op.f("uq_app_installations_tenant_id_app_id")),
    )
    op.create_index(op.f("ix_app_installations_app_id"), "app_installations", ["app_id"], unique=False)
    enable_tenant_rls("app_installations")

    op.create_table(
        "app_authorization_codes",
        *_keys("app_authorization_codes"),
        *_installation("app_authorization_codes"),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("scopes", Json, nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("code_challenge_method", sa.String(length=10), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", Moment, nullable=False),
        sa.Column("used_at", Moment, nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_app_authorization_codes_user_id_users"),
            ondelete="CASCADE",
        ),
    )
    enable_tenant_rls("app_authorization_codes")

    op.create_table(
        "app_tokens",
        *_keys("app_tokens"),
        *_installation("app_tokens"),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("grant_type", sa.String(length=40), nullable=False),
        sa.Column("scopes", Json, nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("expires_at", Moment, nullable=False),
        sa.Column("used_at", Moment, nullable=True),
        sa.Column("revoked_at", Moment, nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.CheckConstraint("kind IN ('access', 'refresh')", name=op.f("ck_app_tokens_kind")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_app_tokens_user_id_users"), ondelete="SET NULL"
        ),
    )
    op.create_index(
        "ix_app_tokens_tenant_id_family_id", "app_tokens", ["tenant_id", "family_id"], unique=False
    )
    op.create_index(
        "ix_app_tokens_tenant_id_installation_id",
        "app_tokens",
        ["tenant_id", "installation_id"],
        unique=False,
    )
    enable_tenant_rls("app_tokens")


def downgrade() -> None:
    op.drop_table("app_tokens")
    op.drop_table("app_authorization_codes")
    op.drop_table("app_installations")
    op.drop_index(op.f("ix_apps_developer_tenant_id"), table_name="apps")
    op.drop_table("apps")
