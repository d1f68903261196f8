"""The outbox wakes the relays: NOTIFY huike_outbox when outbox rows commit (PostgreSQL)

Revision ID: 0020_outbox_notify
Revises: 0019_member_phone
Create Date: 2026-12-01 15:30:00

A statement-level trigger, so a multi-row insert notifies once; PostgreSQL delivers a
``NOTIFY`` only when its transaction commits, and folds identical ones of one transaction
into one. No-op off PostgreSQL (the embedded relay is woken in its own process).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020_outbox_notify"
down_revision: str | Sequence[str] | None = "0019_member_phone"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION huike_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_notify('huike_outbox', ''); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER outbox_messages_notify AFTER INSERT ON outbox_messages "
        "FOR EACH STATEMENT EXECUTE FUNCTION huike_outbox_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER outbox_messages_notify ON outbox_messages")
    op.execute("DROP FUNCTION huike_outbox_notify()")
