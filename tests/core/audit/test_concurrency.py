"""Two transactions of one tenant appending at once never fork the chain (PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select, text

from core.audit.verify import verify_chains
from core.kernel.database import Database
from core.kernel.ids import new_id
from core.kernel.models import Tenant
from core.kernel.tenancy import tenant_context
from core.security.models import Team

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def _tenant(db: Database) -> uuid.UUID:
    tenant_id = new_id()
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            session.add(Tenant(id=tenant_id, name="Race", slug=f"race-{tenant_id.hex[:8]}"))
    return tenant_id


async def _waiting_for_a_lock(db: Database) -> bool:
    async with db.engine.connect() as conn:
        waiting = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        )
    return bool(waiting)


async def test_a_second_writer_waits_for_the_first_and_follows_it(db: Database) -> None:
    tenant_id = await _tenant(db)
    first_flushed = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        with tenant_context(tenant_id):
            async with db.transaction() as session:
                session.add(Team(name="First"))
                await session.flush()  # appends: holds the chain head until commit
                first_flushed.set()
                await release_first.wait()

    async def second() -> None:
        await first_flushed.wait()
        with tenant_context(tenant_id):
            async with db.transaction() as session:
                session.add(Team(name="Second"))
                await session.flush()

    racing = asyncio.gather(first(), second())
    await first_flushed.wait()
    while True:  # until the second writer is queued on the chain head row
        if await _waiting_for_a_lock(db):
            break
        await asyncio.sleep(0.01)
    release_first.set()
    await racing

    report = await verify_chains(db, str(tenant_id))
    assert report.problems == []
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            teams = (
                await session.execute(
                    text("SELECT entity_id FROM audit_entries WHERE entity_type = 'teams' ORDER BY seq")
                )
            ).all()
            names = {t.id: t.name for t in (await session.scalars(select(Team))).all()}
    assert [names[uuid.UUID(row.entity_id)] for row in teams] == ["First", "Second"]


async def test_many_concurrent_writers_leave_one_valid_chain(db: Database) -> None:
    tenant_id = await _tenant(db)

    async def writer(n: int) -> None:
        with tenant_context(tenant_id):
            async with db.transaction() as session:
                session.add(Team(name=f"Team {n}"))

    await asyncio.gather(*(writer(n) for n in range(12)))
    report = await verify_chains(db, str(tenant_id))
    assert report.problems == []
    assert report.entries == 13  # the tenant, then twelve teams
