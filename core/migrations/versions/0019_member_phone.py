"""A member's work mobile (encrypted, for text messages such as task reminders); the
business's time zone (the times those messages and mails show)

Revision ID: 0019_member_phone
Revises: 0018_permission_catalogue
Create Date: 2026-12-01 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_member_phone"
down_revision: str | Sequence[str] | None = "0018_permission_catalogue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # memberships already has row-level security; the new column is a ciphertext under the
    # tenant's data key, like customers.phone.
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("timezone", sa.String(length=64), server_default="Asia/Shanghai", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("timezone")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("phone")
