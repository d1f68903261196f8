"""The mirror of active installations tells the developer when each business installed the
app and what it granted (the installations themselves are the installing tenants', under RLS)

Revision ID: 0022_app_tenant_details
Revises: 0021_final_deliveries
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.kernel.models

revision: str = "0022_app_tenant_details"
down_revision: str | Sequence[str] | None = "0021_final_deliveries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Moment = core.kernel.models.UTCDateTime(timezone=True)
Scopes = core.kernel.models.JSONType


def upgrade() -> None:
    with op.batch_alter_table("app_tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("installed_at", Moment, nullable=True))
        batch_op.add_column(sa.Column("granted_scopes", Scopes, nullable=True))
    # From the installations, as far as the migration's role sees them (the table owner,
    # unless row-level security is forced on it for that role too: see 0017). A row whose
    # installation it cannot see gets the migration's time and no scopes, not a deletion:
    # the relay still needs it.
    op.execute(
        "UPDATE app_tenants SET "
        "installed_at = COALESCE(("
        "SELECT i.installed_at FROM app_installations AS i "
        "WHERE i.app_id = app_tenants.app_id AND i.tenant_id = app_tenants.tenant_ref"
        "), CURRENT_TIMESTAMP), "
        "granted_scopes = COALESCE(("
        "SELECT i.granted_scopes FROM app_installations AS i "
        "WHERE i.app_id = app_tenants.app_id AND i.tenant_id = app_tenants.tenant_ref"
        "), '[]')"
    )
    with op.batch_alter_table("app_tenants", schema=None) as batch_op:
        batch_op.alter_column("installed_at", existing_type=Moment, nullable=False)
        batch_op.alter_column("granted_scopes", existing_type=Scopes, nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("app_tenants", schema=None) as batch_op:
        batch_op.drop_column("granted_scopes")
        batch_op.drop_column("installed_at")
