"""Imports: import batches, their encrypted file chunks, row errors and written records

Revision ID: 0012_imports
Revises: 0009_opportunities
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.kernel.models
from core.migrations.rls import enable_tenant_rls

revision: str = "0012_imports"
down_revision: str | Sequence[str] | None = "0009_opportunities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Moment = core.kernel.models.UTCDateTime(timezone=True)


def _keys(table: str, *, versioned: bool = False) -> list[sa.schema.SchemaItem]:
    items: list[sa.schema.SchemaItem] = [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"pk_{table}")),
    ]
    if versioned:
        items.insert(2, sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    return items


def _parent(table: str, **kwargs: str | bool) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "import_id"],
        ["imports.tenant_id", "imports.id"],
        name=op.f(f"fk_{table}_tenant_id_import_id_imports"),
        ondelete="CASCADE",
        **kwargs,  # type: ignore[arg-type]
    )


def upgrade() -> None:
    op.create_table(
        "imports",
        *_keys("imports", versioned=True),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("file_format", sa.String(length=10), nullable=False),
        sa.Column("encoding", sa.String(length=20), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("file_purged", sa.Boolean(), nullable=False),
        sa.Column("headers", core.kernel.models.JSONType, nullable=False),
        sa.Column("mapping", core.kernel.models.JSONType, nullable=False),
        sa.Column("policy", sa.String(length=10), nullable=False),
        sa.Column("defaults", core.kernel.models.JSONType, nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=True),
        sa.Column("processed_rows", sa.Integer(), nullable=False),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("updated_count", sa.Integer(), nullable=False),
        sa.Column("skipped_count", sa.Integer(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("undone_count", sa.Integer(), nullable=False),
        sa.Column("kept_count", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("started_at", Moment, nullable=True),
        sa.Column("finished_at", Moment, nullable=True),
        sa.Column("updated_at", Moment, nullable=False),
        sa.CheckConstraint("entity IN ('customer', 'contact', 'lead')", name=op.f("ck_imports_entity")),
        sa.CheckConstraint("policy IN ('skip', 'update', 'create')", name=op.f("ck_imports_policy")),
    )
    with op.batch_alter_table("imports", schema=None) as batch_op:
        batch_op.create_index("ix_imports_tenant_id_created_at", ["tenant_id", "created_at"], unique=False)
    enable_tenant_rls("imports")

    op.create_table(
        "import_chunks",
        *_keys("import_chunks"),
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        _parent("import_chunks", deferrable=True, initially="DEFERRED"),
        sa.UniqueConstraint(
            "tenant_id", "import_id", "seq", name=op.f("uq_import_chunks_tenant_id_import_id_seq")
        ),
    )
    enable_tenant_rls("import_chunks")

    op.create_table(
        "import_errors",
        *_keys("import_errors"),
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=120), nullable=True),
        sa.Column("column", sa.String(length=200), nullable=True),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _parent("import_errors"),
    )
    with op.batch_alter_table("import_errors", schema=None) as batch_op:
        batch_op.create_index(
            "ix_import_errors_tenant_id_import_id_row", ["tenant_id", "import_id", "row_number"], unique=False
        )
    enable_tenant_rls("import_errors")

    op.create_table(
        "import_records",
        *_keys("import_records"),
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("version_after", sa.Integer(), nullable=False),
        sa.Column("before", sa.LargeBinary(), nullable=True),
        sa.Column("undo_result", sa.String(length=10), nullable=True),
        _parent("import_records"),
        sa.CheckConstraint("action IN ('created', 'updated')", name=op.f("ck_import_records_action")),
    )
    with op.batch_alter_table("import_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_import_records_tenant_id_import_id_row",
            ["tenant_id", "import_id", "row_number"],
            unique=False,
        )
        batch_op.create_index(
            "ix_import_records_tenant_id_entity_id", ["tenant_id", "entity_id"], unique=False
        )
    enable_tenant_rls("import_records")


def downgrade() -> None:
    op.drop_table("import_records")
    op.drop_table("import_errors")
    op.drop_table("import_chunks")
    op.drop_table("imports")
