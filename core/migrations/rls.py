"""Migration helpers for the PostgreSQL wall: row-level security on tenant-owned tables.

Every migration that creates a tenant-owned table calls :func:`enable_tenant_rls` for it.
``tests/core/kernel/test_rls.py`` lists every table with ``tenant_id`` and fails on one
without RLS enabled and forced.
"""

from __future__ import annotations

from alembic import op

__all__ = ["TENANT_PREDICATE", "allow_reading_own_rows", "enable_owner_writes_rls", "enable_tenant_rls"]

TENANT_PREDICATE = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"


def enable_tenant_rls(table: str) -> None:
    """ENABLE and FORCE RLS on ``table`` with the tenant policy. No-op off PostgreSQL."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE})"
    )


def allow_reading_own_rows(table: str, column: str = "user_id") -> None:
    """A second, read-only policy: an account sees its own rows in every tenant (sign-in)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"CREATE POLICY own_rows_read ON {table} FOR SELECT "
        f"USING ({column} = NULLIF(current_setting('app.user_id', true), '')::uuid)"
    )


def enable_owner_writes_rls(table: str, column: str) -> None:
    """RLS on a platform table that one tenant owns through ``column`` (the apps a developer
    registered): every row is readable (a client is looked up before any tenant is known),
    only the owning tenant's rows are writable. No-op off PostgreSQL."""
    if op.get_bind().dialect.name != "postgresql":
        return
    owner = TENANT_PREDICATE.replace("tenant_id", column, 1)
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY public_read ON {table} FOR SELECT USING (true)")
    op.execute(f"CREATE POLICY owner_insert ON {table} FOR INSERT WITH CHECK ({owner})")
    op.execute(f"CREATE POLICY owner_update ON {table} FOR UPDATE USING ({owner}) WITH CHECK ({owner})")
    op.execute(f"CREATE POLICY owner_delete ON {table} FOR DELETE USING ({owner})")
