"""Wall 1: the ORM filters every query of a tenant-owned model to the current tenant.

These tests connect through ``rls_free_db``, which row-level security does not filter, so
on PostgreSQL too they test the ORM filter alone."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, func, select, update

from core.kernel.database import Database
from core.kernel.ids import new_id
from core.kernel.models import Tenant
from core.kernel.tenancy import ALL_TENANTS, CrossTenantWrite, NoTenantInContext, tenant_context
from core.security.models import Team

pytestmark = pytest.mark.anyio


async def _tenant_with_teams(db: Database, name: str, teams: list[str]) -> uuid.UUID:
    tenant_id = new_id()
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            session.add(Tenant(id=tenant_id, name=name, slug=f"{name}-{tenant_id.hex[:6]}"))
            await session.flush()
            session.add_all(Team(name=team) for team in teams)
    return tenant_id


async def test_a_query_sees_only_the_current_tenants_rows(rls_free_db: Database) -> None:
    a = await _tenant_with_teams(rls_free_db, "a", ["North", "South"])
    b = await _tenant_with_teams(rls_free_db, "b", ["Secret B team"])
    with tenant_context(a):
        async with rls_free_db.transaction() as session:
            names = set((await session.scalars(select(Team.name))).all())
            count = await session.scalar(select(func.count()).select_from(Team))
    assert names == {"North", "South"}
    assert count == 2
    with tenant_context(b):
        async with rls_free_db.transaction() as session:
            assert (await session.scalars(select(Team.name))).all() == ["Secret B team"]


async def test_updates_and_deletes_touch_only_the_current_tenant(rls_free_db: Database) -> None:
    a = await _tenant_with_teams(rls_free_db, "a", ["Same name"])
    b = await _tenant_with_teams(rls_free_db, "b", ["Same name"])
    with tenant_context(a):
        async with rls_free_db.transaction() as session:
            await session.execute(update(Team).values(name="Renamed by A"))
            await session.execute(delete(Team).where(Team.name == "nothing"))
    with tenant_context(b):
        async with rls_free_db.transaction() as session:
            assert (await session.scalars(select(Team.name))).all() == ["Same name"]
            await session.execute(delete(Team))
    with tenant_context(a):
        async with rls_free_db.transaction() as session:
            assert (await session.scalars(select(Team.name))).all() == ["Renamed by A"]


async def test_a_query_without_a_tenant_raises_instead_of_reading_everyone(rls_free_db: Database) -> None:
    await _tenant_with_teams(rls_free_db, "a", ["North"])
    async with rls_free_db.transaction() as session:
        with pytest.raises(NoTenantInContext):
            await session.scalars(select(Team))
        with pytest.raises(NoTenantInContext):
            await session.execute(update(Team).values(name="x"))


async def test_cross_tenant_reads_must_be_asked_for_explicitly(rls_free_db: Database) -> None:
    await _tenant_with_teams(rls_free_db, "a", ["North"])
    await _tenant_with_teams(rls_free_db, "b", ["South"])
    async with rls_free_db.transaction() as session:
        rows = (await session.scalars(select(Team.name).execution_options(**ALL_TENANTS))).all()
    assert sorted(rows) == ["North", "South"]


async def test_inserts_get_the_current_tenant(rls_free_db: Database) -> None:
    a = await _tenant_with_teams(rls_free_db, "a", [])
    with tenant_context(a):
        async with rls_free_db.transaction() as session:
            team = Team(name="Filled in")
            session.add(team)
            await session.flush()
            assert team.tenant_id == a


async def test_writing_another_tenants_object_is_refused(rls_free_db: Database) -> None:
    a = await _tenant_with_teams(rls_free_db, "a", [])
    b = await _tenant_with_teams(rls_free_db, "b", [])
    with tenant_context(a), pytest.raises(CrossTenantWrite):
        async with rls_free_db.transaction() as session:
            session.add(Team(name="smuggled", tenant_id=b))
    with tenant_context(b):
        async with rls_free_db.transaction() as session:
            assert (await session.scalars(select(Team))).all() == []


async def test_inserting_without_a_tenant_raises(rls_free_db: Database) -> None:
    with pytest.raises(NoTenantInContext):
        async with rls_free_db.transaction() as session:
            session.add(Team(name="orphan"))
