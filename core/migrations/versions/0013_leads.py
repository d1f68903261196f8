"""Leads, lead web forms and lead assignment rules

Revision ID: 0013_leads
Revises: 0010_activities
Create Date: 2026-11-23 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.kernel.models
from core.migrations.rls import enable_tenant_rls

revision: str = "0013_leads"
down_revision: str | Sequence[str] | None = "0010_activities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Moment = core.kernel.models.UTCDateTime(timezone=True)


def _keys(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"pk_{table}")),
    ]


def upgrade() -> None:
    op.create_table(
        "leads",
        *_keys("leads"),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=True),
        sa.Column("phone", sa.LargeBinary(), nullable=True),
        sa.Column("phone_bidx", sa.LargeBinary(length=32), nullable=True),
        sa.Column("email", sa.LargeBinary(), nullable=True),
        sa.Column("email_bidx", sa.LargeBinary(length=32), nullable=True),
        sa.Column("message", sa.LargeBinary(), nullable=True),
        sa.Column("source", sa.String(length=80), nullable=True),
        sa.Column("region", sa.String(length=80), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("form_id", sa.Uuid(), nullable=True),
        sa.Column("custom_fields", core.kernel.models.JSONType, nullable=False),
        sa.Column("converted_at", Moment, nullable=True),
        sa.Column("converted_customer_id", sa.Uuid(), nullable=True),
        sa.Column("converted_contact_id", sa.Uuid(), nullable=True),
        sa.Column("converted_opportunity_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("updated_at", Moment, nullable=False),
        sa.CheckConstraint(
            "status IN ('new', 'contacted', 'qualified', 'unqualified', 'converted')",
            name=op.f("ck_leads_status"),
        ),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index("ix_leads_tenant_id_owner_id", ["tenant_id", "owner_id"], unique=False)
        batch_op.create_index("ix_leads_tenant_id_status", ["tenant_id", "status"], unique=False)
        batch_op.create_index("ix_leads_tenant_id_phone_bidx", ["tenant_id", "phone_bidx"], unique=False)
        batch_op.create_index("ix_leads_tenant_id_email_bidx", ["tenant_id", "email_bidx"], unique=False)
    enable_tenant_rls("leads")

    op.create_table(
        "lead_forms",
        *_keys("lead_forms"),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=True),
        sa.Column("honeypot_field", sa.String(length=40), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.UniqueConstraint("tenant_id", "secret_hash", name=op.f("uq_lead_forms_tenant_id_secret_hash")),
    )
    enable_tenant_rls("lead_forms")

    op.create_table(
        "lead_assignment_rules",
        *_keys("lead_assignment_rules"),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=True),
        sa.Column("region", sa.String(length=80), nullable=True),
        sa.Column("strategy", sa.String(length=20), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("last_user_id", sa.Uuid(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "team_id"],
            ["teams.tenant_id", "teams.id"],
            name=op.f("fk_lead_assignment_rules_tenant_id_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "strategy IN ('round_robin', 'user')", name=op.f("ck_lead_assignment_rules_strategy")
        ),
        sa.CheckConstraint(
            "(strategy = 'round_robin' AND team_id IS NOT NULL)"
            " OR (strategy = 'user' AND user_id IS NOT NULL)",
            name=op.f("ck_lead_assignment_rules_target"),
        ),
    )
    with op.batch_alter_table("lead_assignment_rules", schema=None) as batch_op:
        batch_op.create_index("ix_lead_assignment_rules_position", ["tenant_id", "position"], unique=False)
    enable_tenant_rls("lead_assignment_rules")


def downgrade() -> None:
    op.drop_table("lead_assignment_rules")
    op.drop_table("lead_forms")
    op.drop_table("leads")
