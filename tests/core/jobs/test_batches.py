"""A handler's batch of events (what the relay sends on PostgreSQL): one message and one
transaction for a tenant's events, each event still processed, retried and dead-lettered on
its own. The relay is told to batch on SQLite too, so both databases run these."""

from __future__ import annotations

import dataclasses
import uuid
from uuid import uuid4

import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import event, select, update

from core.audit.models import AuditEntry
from core.events.models import OutboxKind, OutboxMessage
from core.events.service import record_event
from core.jobs.broker import QUEUE
from core.jobs.context import JobContext
from core.jobs.models import DeadLetter, ProcessedMessage
from core.jobs.registry import JobRegistry, handler, job
from core.jobs.runner import Envelope
from core.jobs.runtime import JobRuntime
from core.jobs.service import enqueue_after_commit
from core.kernel.database import Database
from core.kernel.tenancy import tenant_context
from core.security.models import Team
from tests.core.jobs.conftest import CreateTeam, RuntimeFactory, TeamWanted, World, new_tenant, team_names

pytestmark = pytest.mark.anyio

HANDLER = "handler:tests.create_team"


@dataclasses.dataclass
class PickyWorld(World):
    """A handler that writes its team, asks for a follow-up job after commit, then fails for
    the labels in ``refused``: what a failing event leaves behind must be rolled back."""

    refused: set[str] = dataclasses.field(default_factory=set)
    #: Whether the handler flushes its team itself (else the runner's flush writes it).
    flushes: bool = True

    def registry(self) -> JobRegistry:
        @job("tests.create_team_job", CreateTeam)
        async def follow_up(ctx: JobContext, payload: CreateTeam) -> None:
            ctx.session.add(Team(name=payload.label))

        @handler(TeamWanted, name="tests.create_team")
        async def create_team(ctx: JobContext, event: TeamWanted) -> None:
            self.calls.append((event.label, ctx.tenant_id, ctx.attempt))
            ctx.session.add(Team(name=event.label))
            if self.flushes:
                await ctx.session.flush()
            await enqueue_after_commit(ctx.session, follow_up, CreateTeam(label=f"after {event.label}"))
            if event.label in self.refused:
                raise RuntimeError(f"cannot create {event.label}")

        registry = JobRegistry()
        registry.add_handlers([create_team])
        registry.add_jobs([follow_up])
        return registry


@pytest.fixture
def world() -> PickyWorld:
    return PickyWorld()


async def _emit(db: Database, tenant_id: uuid.UUID, *labels: str) -> None:
    for label in labels:
        with tenant_context(tenant_id):
            async with db.transaction() as session:
                await record_event(session, TeamWanted(label=label))


def _batching(runtimes: RuntimeFactory) -> JobRuntime:
    runtime = runtimes()
    runtime.relay.batch_handlers = True
    return runtime


async def _handled(db: Database) -> int:
    async with db.transaction() as session:
        rows = await session.scalars(select(ProcessedMessage).where(ProcessedMessage.handler == HANDLER))
        return len(rows.all())


async def test_a_pass_sends_a_handler_one_message_per_tenant_for_its_events(
    db: Database, runtimes: RuntimeFactory, world: PickyWorld
) -> None:
    a = await new_tenant(db, "a")
    b = await new_tenant(db, "b")
    await _emit(db, a, "A1", "A2", "A3")
    await _emit(db, b, "B1", "B2")
    runtime = _batching(runtimes)

    assert await runtime.relay.run_once() == 5
    if isinstance(runtime.broker, StubBroker):
        assert runtime.broker.queues[QUEUE].qsize() == 2
    await runtime.start(worker=True, relay=False, scheduler=False)
    await runtime.drain()

    assert await team_names(db, a) == ["A1", "A2", "A3", "after A1", "after A2", "after A3"]
    assert await team_names(db, b) == ["B1", "B2", "after B1", "after B2"]
    assert sorted(world.calls) == sorted(
        [("A1", a, 1), ("A2", a, 1), ("A3", a, 1), ("B1", b, 1), ("B2", b, 1)]
    )
    assert await _handled(db) == 5


async def test_a_failing_event_rolls_back_only_itself_and_is_retried_and_dead_lettered_alone(
    db: Database, runtimes: RuntimeFactory, world: PickyWorld
) -> None:
    tenant = await new_tenant(db)
    world.refused = {"Doomed"}
    await _emit(db, tenant, "First", "Doomed", "Last")
    runtime = _batching(runtimes)
    await runtime.start(worker=True, relay=False, scheduler=False)

    await runtime.drain()

    # The others' teams and follow-up jobs committed once; the failing event's team, and the
    # job it asked for, never did.
    assert await team_names(db, tenant) == ["First", "Last", "after First", "after Last"]
    # The batch ran without savepoints until Doomed failed, then again with one per event:
    # First ran twice (its first run rolled back), Last once, and neither in a retry.
    assert [c for c in world.calls if c[0] != "Doomed"] == [
        ("First", tenant, 1),
        ("First", tenant, 1),
        ("Last", tenant, 1),
    ]
    # HUIKE_JOB_MAX_RETRIES=2: the first try and two retries, of the failing event only, run
    # once in each attempt.
    assert [attempt for label, _, attempt in world.calls if label == "Doomed"] == [1, 2, 3]
    async with db.transaction() as session:
        letter = (await session.scalars(select(DeadLetter))).one()
        doomed = await session.scalar(
            select(OutboxMessage.message_id).where(OutboxMessage.payload["label"].as_string() == "Doomed")
        )
    assert letter.actor == HANDLER
    assert letter.message_id == doomed
    assert letter.tenant_ref == tenant
    assert letter.attempts == 3
    assert "cannot create Doomed" in letter.error
    assert await _handled(db) == 2


async def test_a_batch_whose_events_succeed_runs_them_in_one_transaction_without_savepoints(
    db: Database, runtimes: RuntimeFactory, world: PickyWorld
) -> None:
    tenant = await new_tenant(db)
    await _emit(db, tenant, "One", "Two", "Three")
    runtime = _batching(runtimes)
    await runtime.start(worker=True, relay=False, scheduler=False)
    statements: list[str] = []

    def _record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", _record)
    try:
        await runtime.drain()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", _record)

    assert await team_names(db, tenant) == ["One", "Three", "Two", "after One", "after Three", "after Two"]
    assert not [s for s in statements if "SAVEPOINT" in s.upper()]


async def test_each_event_of_a_batch_is_audited_as_its_own_even_when_its_handler_does_not_flush(
    db: Database, runtimes: RuntimeFactory, world: PickyWorld
) -> None:
    tenant = await new_tenant(db)
    world.flushes = False
    await _emit(db, tenant, "One", "Two")
    runtime = _batching(runtimes)
    await runtime.start(worker=True, relay=False, scheduler=False)

    await runtime.drain()

    with tenant_context(tenant):
        async with db.transaction() as session:
            events = dict(
                (
                    await session.execute(
                        select(OutboxMessage.payload["label"].as_string(), OutboxMessage.message_id)
                    )
                ).all()
            )
            teams = dict((await session.execute(select(Team.name, Team.id))).all())
            audited = dict(
                (
                    await session.execute(
                        select(AuditEntry.entity_id, AuditEntry.request_id).where(
                            AuditEntry.entity_type == "teams", AuditEntry.action == "create"
                        )
                    )
                ).all()
            )
    assert audited[str(teams["One"])] == str(events["One"])
    assert audited[str(teams["Two"])] == str(events["Two"])


async def test_a_batch_sent_again_runs_none_of_its_events_twice(
    db: Database, runtimes: RuntimeFactory, world: PickyWorld
) -> None:
    tenant = await new_tenant(db)
    await _emit(db, tenant, "One", "Two")
    runtime = _batching(runtimes)
    await runtime.start(worker=True, relay=False, scheduler=False)
    await runtime.drain()
    # The relay died after sending but before marking the rows sent; with a third event
    # committed since, the next pass makes a different batch of the same events.
    async with db.transaction() as session:
        await session.execute(update(OutboxMessage).values(dispatched_at=None))
    await _emit(db, tenant, "Three")

    await runtime.drain()

    assert await team_names(db, tenant) == ["One", "Three", "Two", "after One", "after Three", "after Two"]
    assert sorted(label for label, _, _ in world.calls) == ["One", "Three", "Two"]
    assert await _handled(db) == 3


async def test_a_batch_of_several_tenants_runs_each_event_in_its_own_tenant(
    db: Database, runtimes: RuntimeFactory, world: PickyWorld
) -> None:
    a = await new_tenant(db, "a")
    b = await new_tenant(db, "b")
    runtime = runtimes()
    await runtime.start(worker=True, relay=False, scheduler=False)
    envelopes = [
        Envelope(
            kind=OutboxKind.EVENT, name=TeamWanted.name, message_id=uuid4(), tenant_id=t, payload={"label": n}
        )
        for t, n in [(a, "For A"), (b, "For B"), (a, "For A too")]
    ]

    await runtime.runner.run_batch(HANDLER, envelopes, attempt=1)
    await runtime.drain()

    assert await team_names(db, a) == ["For A", "For A too", "after For A", "after For A too"]
    assert await team_names(db, b) == ["For B", "after For B"]
