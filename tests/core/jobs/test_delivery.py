"""What the outbox and the job runtime guarantee, on the in-process worker (SQLite and
PostgreSQL) and on the real Redis broker (``redis``)."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select, update

from core.events.models import OutboxMessage
from core.events.service import record_event, record_job
from core.jobs.models import DeadLetter, ProcessedMessage
from core.jobs.runtime import JobRuntime
from core.jobs.service import enqueue
from core.kernel.database import Database
from core.kernel.tenancy import NoTenantInContext, tenant_context
from core.mail import MemoryMailer
from tests.core.jobs.conftest import (
    CreateTeam,
    RuntimeFactory,
    TeamWanted,
    World,
    count,
    new_tenant,
    team_names,
)

pytestmark = pytest.mark.anyio


async def _emit(db: Database, tenant_id: object, label: str) -> None:
    with tenant_context(tenant_id):  # type: ignore[arg-type]
        async with db.transaction() as session:
            await record_event(session, TeamWanted(label=label))


async def _started(runtimes: RuntimeFactory) -> JobRuntime:
    runtime = runtimes()
    await runtime.start(worker=True, relay=False, scheduler=False)
    return runtime


async def test_a_committed_event_runs_its_handler_in_the_events_tenant(
    db: Database, runtimes: RuntimeFactory, world: World
) -> None:
    a = await new_tenant(db, "a")
    b = await new_tenant(db, "b")
    await _emit(db, a, "Emitted by A")
    runtime = await _started(runtimes)

    await runtime.drain()

    assert await team_names(db, a) == ["Emitted by A"]
    assert await team_names(db, b) == []
    assert world.calls == [("Emitted by A", a, 1)]


async def test_a_rolled_back_transaction_emits_nothing(
    db: Database, runtimes: RuntimeFactory, world: World
) -> None:
    tenant = await new_tenant(db)

    async def change_my_mind() -> None:
        with tenant_context(tenant):
            async with db.transaction() as session:
                await record_event(session, TeamWanted(label="Never"))
                raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError, match="changed my mind"):
        await change_my_mind()
    runtime = await _started(runtimes)

    await runtime.drain()

    assert await count(db, OutboxMessage) == 0
    assert world.calls == []
    assert await team_names(db, tenant) == []


async def test_an_event_committed_while_the_broker_is_down_is_delivered_once_it_is_back(
    db: Database, runtimes: RuntimeFactory, world: World
) -> None:
    tenant = await new_tenant(db)
    await _emit(db, tenant, "Patient")
    # Nothing listens on port 1: sending fails, and the row stays in the outbox.
    broken = JobRuntime(
        dataclasses.replace(runtimes().settings, redis_url="redis://127.0.0.1:1/0"),
        db,
        world.registry(),
        MemoryMailer(),
    )
    with pytest.raises(Exception, match=r"(?i)connect"):
        await broken.relay.run_once()
    pending = await count_pending(db)
    assert pending == 1

    runtime = await _started(runtimes)
    await runtime.drain()

    assert await team_names(db, tenant) == ["Patient"]
    assert await count_pending(db) == 0


async def count_pending(db: Database) -> int:
    async with db.transaction() as session:
        rows = await session.scalars(select(OutboxMessage).where(OutboxMessage.dispatched_at.is_(None)))
        return len(rows.all())


async def test_a_duplicated_delivery_runs_the_handlers_effect_once(
    db: Database, runtimes: RuntimeFactory, world: World
) -> None:
    tenant = await new_tenant(db)
    await _emit(db, tenant, "Only once")
    runtime = await _started(runtimes)
    await runtime.drain()
    # The relay died after sending but before marking the row sent: it sends it again.
    async with db.transaction() as session:
        await session.execute(update(OutboxMessage).values(dispatched_at=None))

    await runtime.drain()

    assert await team_names(db, tenant) == ["Only once"]
    assert len(world.calls) == 1
    assert await count(db, ProcessedMessage) == 1


async def test_a_failing_handler_is_retried_then_dead_lettered(
    db: Database, runtimes: RuntimeFactory, world: World
) -> None:
    tenant = await new_tenant(db)
    world.failing = True
    await _emit(db, tenant, "Doomed")
    runtime = await _started(runtimes)

    await runtime.drain()

    # HUIKE_JOB_MAX_RETRIES=2: the first try and two retries.
    assert [attempt for _, _, attempt in world.calls] == [1, 2, 3]
    async with db.transaction() as session:
        letter = (await session.scalars(select(DeadLetter))).one()
    assert letter.tenant_ref == tenant
    assert letter.actor == "handler:tests.create_team"
    assert letter.name == "tests.team_wanted"
    assert letter.attempts == 3
    assert "cannot create Doomed" in letter.error
    assert await team_names(db, tenant) == []


async def test_a_job_enqueued_by_a_service_runs_after_commit_in_its_tenant(
    db: Database, runtimes: RuntimeFactory, world: World
) -> None:
    a = await new_tenant(db, "a")
    with tenant_context(a):
        async with db.transaction() as session:
            await enqueue(session, world.registry().jobs["tests.create_team_job"], CreateTeam(label="Job A"))
    runtime = await _started(runtimes)

    await runtime.drain()

    assert await team_names(db, a) == ["Job A"]
    assert world.calls == [("Job A", a, 1)]


async def test_a_tenant_job_cannot_be_enqueued_without_a_tenant(db: Database, world: World) -> None:
    tenant_job = world.registry().jobs["tests.create_team_job"]
    with pytest.raises(NoTenantInContext):
        async with db.transaction() as session:
            await enqueue(session, tenant_job, CreateTeam(label="Orphan"))
    assert await count(db, OutboxMessage) == 0


async def test_a_tenant_job_arriving_without_a_tenant_is_refused(
    db: Database, runtimes: RuntimeFactory, world: World
) -> None:
    async with db.transaction() as session:
        record_job(session, "tests.create_team_job", {"label": "Orphan"}, None)
    runtime = await _started(runtimes)

    await runtime.drain()

    assert world.calls == []
    async with db.transaction() as session:
        letter = (await session.scalars(select(DeadLetter))).one()
    assert letter.error.startswith("refused: job 'tests.create_team_job' is not a platform job")
    assert letter.attempts == 1


async def test_a_platform_job_runs_with_no_tenant(
    db: Database, runtimes: RuntimeFactory, world: World
) -> None:
    async with db.transaction() as session:
        await enqueue(session, world.registry().jobs["tests.platform_job"], CreateTeam(label="fleet"))
    runtime = await _started(runtimes)

    await runtime.drain()

    assert world.calls == [("fleet", None, 1)]
