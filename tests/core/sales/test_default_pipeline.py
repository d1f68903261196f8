"""One default pipeline per tenant: held by the database, and by the swap under concurrency."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from core.kernel.database import Database
from core.kernel.ids import new_id
from core.kernel.models import Tenant
from core.kernel.tenancy import tenant_context
from core.sales import service
from core.sales.models import Pipeline
from core.sales.schemas import PipelineCreate

pytestmark = pytest.mark.anyio


async def _tenant_with_pipelines(db: Database, *names: str) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A tenant with its seeded default pipeline and one more pipeline per name."""
    tenant_id = new_id()
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            session.add(Tenant(id=tenant_id, name="Race", slug=f"race-{tenant_id.hex}"))
            await session.flush()
            seeded = await service.seed_default_pipeline(session, "en")
            ids = [seeded.id]
            for name in names:
                ids.append(
                    (await service.create_pipeline(session, PipelineCreate(name=name, locale="en"))).id
                )
    return tenant_id, ids


async def _defaults(db: Database, tenant_id: uuid.UUID) -> list[uuid.UUID]:
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            return list((await session.scalars(select(Pipeline.id).where(Pipeline.is_default))).all())


async def test_the_database_refuses_a_second_default_pipeline(db: Database) -> None:
    tenant_id, [seeded, other] = await _tenant_with_pipelines(db, "Enterprise")
    with tenant_context(tenant_id), pytest.raises(IntegrityError):
        async with db.transaction() as session:
            # Bypassing the service: the partial unique index alone must say no.
            await session.execute(update(Pipeline).where(Pipeline.id == other).values(is_default=True))
    assert await _defaults(db, tenant_id) == [seeded]


async def test_each_tenant_has_its_own_default(db: Database) -> None:
    first, [first_default] = await _tenant_with_pipelines(db)
    second, [second_default] = await _tenant_with_pipelines(db)
    assert await _defaults(db, first) == [first_default]
    assert await _defaults(db, second) == [second_default]


async def test_setting_the_default_swaps_it_in_one_step(db: Database) -> None:
    tenant_id, [seeded, other] = await _tenant_with_pipelines(db, "Enterprise")
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            view = await service.set_default_pipeline(session, other)
    assert view.is_default
    assert await _defaults(db, tenant_id) == [other]
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            assert (await service.get_pipeline(session, seeded)).is_default is False


async def _waiting_for_a_lock(db: Database) -> bool:
    async with db.engine.connect() as conn:
        waiting = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        )
    return bool(waiting)


@pytest.mark.postgres
async def test_concurrent_swaps_queue_up_and_leave_exactly_one_default(db: Database) -> None:
    tenant_id, [_, first_choice, second_choice] = await _tenant_with_pipelines(db, "Retail", "Projects")
    first_swapped = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        with tenant_context(tenant_id):
            async with db.transaction() as session:
                await service.set_default_pipeline(session, first_choice)
                first_swapped.set()
                await release_first.wait()  # holds its locks until the second one queues

    async def second() -> None:
        await first_swapped.wait()
        with tenant_context(tenant_id):
            async with db.transaction() as session:
                await service.set_default_pipeline(session, second_choice)

    racing = asyncio.gather(first(), second())
    await first_swapped.wait()
    while True:  # until the second swap is queued on the first one's locks
        if await _waiting_for_a_lock(db):
            break
        await asyncio.sleep(0.01)
    release_first.set()
    await racing

    assert await _defaults(db, tenant_id) == [second_choice]
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            total = await session.scalar(select(func.count()).select_from(Pipeline))
    assert total == 3


@pytest.mark.postgres
async def test_many_concurrent_swaps_never_break_the_rule(db: Database) -> None:
    tenant_id, ids = await _tenant_with_pipelines(db, "A", "B", "C", "D")

    async def swap(pipeline_id: uuid.UUID) -> None:
        with tenant_context(tenant_id):
            async with db.transaction() as session:
                await service.set_default_pipeline(session, pipeline_id)

    for _ in range(3):
        await asyncio.gather(*(swap(i) for i in ids))
        defaults = await _defaults(db, tenant_id)
        assert len(defaults) == 1
        assert defaults[0] in ids
