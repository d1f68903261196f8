"""Wall 2: PostgreSQL row-level security, tested with raw SQL that bypasses the ORM."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from tests.core.kernel.test_orm_wall import _tenant_with_teams

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def test_raw_sql_under_tenant_a_returns_none_of_bs_rows(db: Database) -> None:
    a = await _tenant_with_teams(db, "a", ["A1", "A2"])
    await _tenant_with_teams(db, "b", ["B secret"])
    with tenant_context(a):
        async with db.transaction() as session:
            names = (await session.execute(text("SELECT name FROM teams"))).scalars().all()
            smuggled = await session.execute(text("SELECT count(*) FROM teams WHERE name = 'B secret'"))
            assert smuggled.scalar_one() == 0
    assert sorted(names) == ["A1", "A2"]


async def test_raw_sql_without_a_tenant_sees_nothing(db: Database) -> None:
    await _tenant_with_teams(db, "a", ["A1"])
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM teams"))).scalar_one() == 0


async def test_raw_sql_cannot_write_into_another_tenant(db: Database) -> None:
    a = await _tenant_with_teams(db, "a", [])
    b = await _tenant_with_teams(db, "b", [])
    with tenant_context(a), pytest.raises(Exception, match="row-level security"):
        async with db.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO teams (tenant_id, id, name, created_at) "
                    "VALUES (:b, gen_random_uuid(), 'planted', now())"
                ),
                {"b": b},
            )


async def test_a_connection_back_in_the_pool_carries_no_tenant(settings: Settings) -> None:
    db = Database(settings.database_url, pool_size=1, max_overflow=0)
    probe = text("SELECT current_setting('app.tenant_id', true), pg_backend_pid()")
    try:
        a = await _tenant_with_teams(db, "a", ["A1"])
        with tenant_context(a):
            async with db.transaction() as session:
                inside, pid_inside = (await session.execute(probe)).one()
        async with db.engine.connect() as conn:
            after, pid_after = (await conn.execute(probe)).one()
        assert pid_after == pid_inside  # the very same pooled connection
        assert inside == str(a)
        assert after in (None, "")
    finally:
        await db.dispose()


async def test_every_table_with_tenant_id_has_rls_enabled_and_forced(db: Database) -> None:
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity "
                    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "JOIN pg_attribute a ON a.attrelid = c.oid "
                    "AND a.attname = 'tenant_id' AND NOT a.attisdropped "
                    "WHERE n.nspname = 'public' AND c.relkind = 'r'"
                )
            )
        ).all()
    assert len(rows) >= 7
    unprotected = [r.relname for r in rows if not (r.relrowsecurity and r.relforcerowsecurity)]
    assert unprotected == []


async def test_the_application_role_owns_no_table_and_cannot_bypass_rls(db: Database) -> None:
    async with db.engine.connect() as conn:
        role = (
            await conn.execute(
                text("SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
        owned = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"
                )
            )
        ).scalar_one()
    assert not role.rolsuper
    assert not role.rolbypassrls
    assert owned == 0
