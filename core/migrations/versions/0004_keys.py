"""Field encryption: tenant data keys, key rotation progress, encrypted invitation emails

Existing invitations are deleted: their emails are plaintext and a migration holds no master
key to encrypt them (invitations are short-lived; resend them). Tenants created before this
revision get their keys from ``huike keys provision``.

Revision ID: 0004_keys
Revises: 0003_events_jobs
Create Date: 2026-11-23 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.kernel.models
from core.migrations.rls import enable_tenant_rls

revision: str = "0004_keys"
down_revision: str | Sequence[str] | None = "0003_events_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("master_key_id", sa.String(length=100), nullable=True),
        sa.Column("wrapped_data_key", sa.LargeBinary(), nullable=True),
        sa.Column("wrapped_index_key", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", core.kernel.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_tenant_keys_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_tenant_keys")),
        sa.UniqueConstraint("tenant_id", "version", name=op.f("uq_tenant_keys_tenant_id_version")),
    )
    op.create_table(
        "key_rotations",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=False),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("table_name", sa.String(length=100), nullable=True),
        sa.Column("last_id", sa.Uuid(), nullable=True),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("started_at", core.kernel.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", core.kernel.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_key_rotations_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_key_rotations")),
    )
    for table in ("tenant_keys", "key_rotations"):
        enable_tenant_rls(table)

    op.execute("DELETE FROM invitations")
    with op.batch_alter_table("invitations") as batch_op:
        batch_op.drop_column("email")
        batch_op.add_column(sa.Column("email", sa.LargeBinary(), nullable=False))
        batch_op.add_column(sa.Column("email_bidx", sa.LargeBinary(length=32), nullable=True))
        batch_op.create_index("ix_invitations_email_bidx", ["tenant_id", "email_bidx"], unique=False)


def downgrade() -> None:
    op.execute("DELETE FROM invitations")
    with op.batch_alter_table("invitations") as batch_op:
        batch_op.drop_index("ix_invitations_email_bidx")
        batch_op.drop_column("email_bidx")
        batch_op.drop_column("email")
        batch_op.add_column(sa.Column("email", sa.String(length=320), nullable=False))
    op.drop_table("key_rotations")
    op.drop_table("tenant_keys")
