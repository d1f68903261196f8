"""Customers and contacts

Revision ID: 0006_customers
Revises: 0007_custom_fields
Create Date: 2026-11-23 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.kernel.models
from core.migrations.rls import enable_tenant_rls

revision: str = "0006_customers"
down_revision: str | Sequence[str] | None = "0007_custom_fields"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tenant_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
    ]


def _when() -> list[sa.Column[object]]:
    return [
        sa.Column("custom_fields", core.kernel.models.JSONType, nullable=False),
        sa.Column("created_at", core.kernel.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.kernel.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "customers",
        *_tenant_columns(),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=True),
        sa.Column("source", sa.String(length=80), nullable=True),
        sa.Column("industry", sa.String(length=80), nullable=True),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("tags", core.kernel.models.JSONType, nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("phone", sa.LargeBinary(), nullable=True),
        sa.Column("phone_bidx", sa.LargeBinary(length=32), nullable=True),
        sa.Column("email", sa.LargeBinary(), nullable=True),
        sa.Column("email_bidx", sa.LargeBinary(length=32), nullable=True),
        sa.Column("address", sa.LargeBinary(), nullable=True),
        sa.Column("id_number", sa.LargeBinary(), nullable=True),
        sa.Column("last_contacted_at", core.kernel.models.UTCDateTime(timezone=True), nullable=True),
        *_when(),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_customers_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_customers")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index("ix_customers_tenant_id_owner_id", ["tenant_id", "owner_id"], unique=False)
        batch_op.create_index("ix_customers_tenant_id_name", ["tenant_id", "name"], unique=False)
        batch_op.create_index("ix_customers_tenant_id_phone_bidx", ["tenant_id", "phone_bidx"], unique=False)
        batch_op.create_index("ix_customers_tenant_id_email_bidx", ["tenant_id", "email_bidx"], unique=False)
    enable_tenant_rls("customers")

    op.create_table(
        "contacts",
        *_tenant_columns(),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=True),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("phone", sa.LargeBinary(), nullable=True),
        sa.Column("phone_bidx", sa.LargeBinary(length=32), nullable=True),
        sa.Column("email", sa.LargeBinary(), nullable=True),
        sa.Column("email_bidx", sa.LargeBinary(length=32), nullable=True),
        *_when(),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["customers.tenant_id", "customers.id"],
            name=op.f("fk_contacts_tenant_id_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_contacts_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_contacts")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index("ix_contacts_tenant_id_customer_id", ["tenant_id", "customer_id"], unique=False)
        batch_op.create_index("ix_contacts_tenant_id_phone_bidx", ["tenant_id", "phone_bidx"], unique=False)
        batch_op.create_index("ix_contacts_tenant_id_email_bidx", ["tenant_id", "email_bidx"], unique=False)
    enable_tenant_rls("contacts")


def downgrade() -> None:
    op.drop_table("contacts")
    op.drop_table("customers")
