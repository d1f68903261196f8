"""Outgoing webhooks: endpoints, deliveries and their attempts, and the wake-up list

Revision ID: 0015_webhooks
Revises: 0014_apps
Create Date: 2027-01-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.kernel.models
from core.migrations.rls import enable_tenant_rls

revision: str = "0015_webhooks"
down_revision: str | Sequence[str] | None = "0014_apps"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Moment = core.kernel.models.UTCDateTime(timezone=True)


def _keys(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"pk_{table}")),
    ]


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        *_keys("webhook_endpoints"),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("events", core.kernel.models.JSONType, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("owner_kind", sa.String(length=20), nullable=False),
        sa.Column("owner_ref", sa.Uuid(), nullable=True),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("previous_secret", sa.LargeBinary(), nullable=True),
        sa.Column("previous_secret_expires_at", Moment, nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        sa.CheckConstraint("owner_kind IN ('tenant', 'app')", name=op.f("ck_webhook_endpoints_owner_kind")),
        sa.CheckConstraint(
            "(owner_kind = 'tenant' AND owner_ref IS NULL) OR (owner_kind <> 'tenant' AND owner_ref IS NOT NULL)",
            name=op.f("ck_webhook_endpoints_owner_ref"),
        ),
    )
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_endpoints_tenant_id_owner", ["tenant_id", "owner_kind", "owner_ref"], unique=False
        )
    enable_tenant_rls("webhook_endpoints")

    op.create_table(
        "webhook_deliveries",
        *_keys("webhook_deliveries"),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_name", sa.String(length=120), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("series", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Moment, nullable=True),
        sa.Column("locked_until", Moment, nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_response", sa.Text(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("last_duration_ms", sa.Integer(), nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        sa.Column("delivered_at", Moment, nullable=True),
        sa.Column("replayed_at", Moment, nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"],
            ["webhook_endpoints.tenant_id", "webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_tenant_id_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "endpoint_id",
            "event_id",
            name=op.f("uq_webhook_deliveries_tenant_id_endpoint_id_event_id"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed', 'dead')", name=op.f("ck_webhook_deliveries_status")
        ),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_deliveries_tenant_id_endpoint_id", ["tenant_id", "endpoint_id", "id"], unique=False
        )
        batch_op.create_index(
            "ix_webhook_deliveries_tenant_id_status", ["tenant_id", "status", "id"], unique=False
        )
        batch_op.create_index(
            "ix_webhook_deliveries_tenant_id_created_at", ["tenant_id", "created_at"], unique=False
        )
    enable_tenant_rls("webhook_deliveries")

    op.create_table(
        "webhook_attempts",
        *_keys("webhook_attempts"),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("series", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("started_at", Moment, nullable=False),
        sa.Column("finished_at", Moment, nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "delivery_id"],
            ["webhook_deliveries.tenant_id", "webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_tenant_id_delivery_id_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "outcome IN ('sending', 'succeeded', 'failed', 'interrupted')",
            name=op.f("ck_webhook_attempts_outcome"),
        ),
    )
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_attempts_tenant_id_delivery_id", ["tenant_id", "delivery_id", "id"], unique=False
        )
    enable_tenant_rls("webhook_attempts")

    # A platform table like the outbox (ids only, read across tenants by the sweeper): no RLS.
    op.create_table(
        "webhook_wakeups",
        sa.Column("tenant_ref", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_ref"],
            ["tenants.id"],
            name=op.f("fk_webhook_wakeups_tenant_ref_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_ref", "delivery_id", name=op.f("pk_webhook_wakeups")),
    )
    with op.batch_alter_table("webhook_wakeups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_wakeups_due_at"), ["due_at"], unique=False)


def downgrade() -> None:
    op.drop_table("webhook_wakeups")
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
