"""A delivery may outlive its endpoint's disabling: the notice of the disabling itself (an
app told by webhook that a business uninstalled it)

Revision ID: 0021_final_deliveries
Revises: 0020_outbox_notify
Create Date: 2026-12-02 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_final_deliveries"
down_revision: str | Sequence[str] | None = "0020_outbox_notify"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("final", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_column("final")
