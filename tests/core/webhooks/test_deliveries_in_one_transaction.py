"""The deliveries of many events in one transaction (a job runner's batch: each event in a
savepoint): the endpoints are read once and never stale, a redelivered event creates nothing,
the bodies are sealed as a flush seals them, and the first wake-ups are one statement at commit."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

import msgspec
import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.events.models import OutboxMessage
from core.jobs.runtime import JobRuntime
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.webhooks import service
from core.webhooks.models import WebhookDelivery, WebhookWakeup
from core.webhooks.schemas import EndpointCreate, EndpointUpdate, Owner
from tests.core.crypto.factories import Shop
from tests.core.webhooks.conftest import add_endpoint, sweep
from tests.http_server import HTTPServer

pytestmark = pytest.mark.anyio

URL = "https://hooks.example.com/in"
T = TypeVar("T")


class HandlerFailed(Exception):
    pass


async def _rolled_back(session: AsyncSession, work: Callable[[], Awaitable[T]]) -> T:
    """``work`` in a savepoint that is rolled back after it (an event whose handler failed)."""
    try:
        async with session.begin_nested():
            done = await work()
            raise HandlerFailed
    except HandlerFailed:
        return done


async def _created(session: AsyncSession, event_name: str = "customers.created", **options: Any) -> int:
    """How many deliveries a new event creates."""
    return len(await service.enqueue_deliveries(session, event_name, uuid.uuid4(), {}, **options))


async def _delivery_jobs(db: Database) -> int:
    async with db.engine.connect() as conn:
        query = (
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.name == "webhooks.deliver")
        )
        return int((await conn.execute(query)).scalar_one())


async def _wakeups(db: Database) -> set[uuid.UUID]:
    async with db.engine.connect() as conn:
        return set((await conn.execute(select(WebhookWakeup.delivery_id))).scalars())


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    """The SQL sent to the database inside the block."""
    sent: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(" ".join(statement.split()))

    event.listen(db.engine.sync_engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", note)


async def test_an_endpoint_written_earlier_in_the_transaction_is_honoured(
    db: Database, settings: Settings, shop: Shop
) -> None:
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            assert await _created(session) == 0  # the endpoints were read: none
            created = await service.create_endpoint(
                session, settings, EndpointCreate(url=URL, events=["customers.*"])
            )
            assert await _created(session) == 1
            await service.update_endpoint(session, settings, created.id, EndpointUpdate(events=["leads.*"]))
            assert await _created(session) == 0
            assert await _created(session, "leads.created") == 1
            await service.update_endpoint(session, settings, created.id, EndpointUpdate(enabled=False))
            assert await _created(session, "leads.created") == 0
            await service.update_endpoint(session, settings, created.id, EndpointUpdate(enabled=True))
            assert await _created(session, "leads.created") == 1
            await service.rotate_secret(session, created.id)
            assert await _created(session, "leads.created") == 1
            await service.delete_endpoint(session, created.id)
            assert await _created(session, "leads.created") == 0


async def test_an_apps_endpoint_synchronised_or_disabled_earlier_in_the_transaction_is_honoured(
    db: Database, shop: Shop
) -> None:
    app = Owner.app(uuid.uuid4())
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            assert await _created(session, owner=app) == 0
            await service.sync_owned_endpoint(
                session, app, url=URL, events=["customers.created"], secret="s1"
            )
            assert await _created(session, owner=app) == 1
            await service.sync_owned_endpoint(session, app, url=URL, events=["leads.created"], secret="s1")
            assert await _created(session, owner=app) == 0
            await service.sync_owned_endpoint(
                session, app, url=URL, events=["customers.created"], secret="s1"
            )
            assert await _created(session, owner=app) == 1
            await service.disable_owned_endpoints(session, app)
            assert await _created(session, owner=app) == 0
            assert await _created(session) == 0  # every owner's: the app's is disabled too


async def test_endpoints_written_in_a_savepoint_rolled_back_are_read_again(
    db: Database, settings: Settings, shop: Shop
) -> None:
    kept = await add_endpoint(db, settings, shop.tenant_id, URL)
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:

            async def change_then_deliver() -> int:
                await service.create_endpoint(session, settings, EndpointCreate(url=URL, events=["*"]))
                await service.update_endpoint(session, settings, kept.id, EndpointUpdate(enabled=False))
                return await _created(session)

            assert await _rolled_back(session, change_then_deliver) == 1  # to the new one only
            # The new endpoint is gone and the other enabled again (a stale list would deliver
            # to an endpoint that does not exist, a foreign key violation).
            assert await _created(session) == 1


async def test_the_endpoints_read_do_not_outlive_the_transaction(
    db: Database, settings: Settings, shop: Shop
) -> None:
    created = await add_endpoint(db, settings, shop.tenant_id, URL)
    with tenant_context(shop.tenant_id):
        async with db.sessions() as session:
            async with session.begin():
                assert await _created(session) == 1
            async with db.transaction() as other:
                await service.update_endpoint(other, settings, created.id, EndpointUpdate(enabled=False))
            async with session.begin():
                assert await _created(session) == 0


@pytest.mark.parametrize("transactions", [1, 2])
async def test_an_event_enqueued_twice_creates_its_deliveries_and_their_jobs_once(
    db: Database, settings: Settings, shop: Shop, transactions: int
) -> None:
    await add_endpoint(db, settings, shop.tenant_id, URL)
    await add_endpoint(db, settings, shop.tenant_id, "https://other.example.com/in")
    event_id = uuid.uuid4()
    created: list[list[uuid.UUID]] = []
    with tenant_context(shop.tenant_id):
        if transactions == 1:
            async with db.transaction() as session:
                for _ in range(2):
                    created.append(
                        await service.enqueue_deliveries(session, "customers.created", event_id, {})
                    )
        else:
            for _ in range(2):
                async with db.transaction() as session:
                    created.append(
                        await service.enqueue_deliveries(session, "customers.created", event_id, {})
                    )
        async with db.transaction() as session:
            stored = set((await session.scalars(select(WebhookDelivery.id))).all())

    assert [len(ids) for ids in created] == [2, 0]
    assert stored == set(created[0])
    assert await _delivery_jobs(db) == 2
    assert await _wakeups(db) == stored


async def test_a_body_is_stored_encrypted_and_reads_back_as_sent(
    db: Database, settings: Settings, shop: Shop
) -> None:
    endpoint = await add_endpoint(db, settings, shop.tenant_id, URL)
    event_id = uuid.uuid4()
    occurred_at = utcnow() - timedelta(minutes=1)
    payload = {"note": "Ms Wang, 13800000000"}
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            [delivery_id] = await service.enqueue_deliveries(
                session, "customers.created", event_id, payload, occurred_at=occurred_at
            )
        async with db.transaction() as session:
            stored = (await session.execute(text("SELECT body FROM webhook_deliveries"))).scalar_one()
            delivery = await session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id))

    assert b"13800000000" not in bytes(stored)
    assert delivery is not None
    assert (delivery.endpoint_id, delivery.event_id, delivery.status) == (endpoint.id, event_id, "pending")
    assert msgspec.json.decode(delivery.body) == {
        "id": str(event_id),
        "event": "customers.created",
        "created_at": msgspec.to_builtins(occurred_at),
        "tenant_id": str(shop.tenant_id),
        "data": payload,
    }


async def test_a_batch_of_events_reads_the_endpoints_once_and_writes_the_wakeups_once(
    db: Database, settings: Settings, shop: Shop
) -> None:
    await add_endpoint(db, settings, shop.tenant_id, URL, events=["customers.*"])
    await add_endpoint(db, settings, shop.tenant_id, "https://other.example.com/in", events=["*"])
    events = 5
    with tenant_context(shop.tenant_id), _statements(db) as sent:
        async with db.transaction() as session:
            for _ in range(events):  # as the job runner runs a batch: each event in a savepoint
                async with session.begin_nested():
                    assert await _created(session) == 2

    def count(start: str, table: str) -> int:
        return sum(1 for s in sent if s.startswith(start) and f" {table} " in f"{s} ")

    assert count("SELECT", "webhook_endpoints") == 1
    assert count("SELECT", "webhook_deliveries") == 0
    assert count("INSERT INTO", "webhook_deliveries") == events
    assert count("INSERT INTO", "webhook_wakeups") == 1
    assert len(await _wakeups(db)) == 2 * events


async def test_an_apps_endpoint_kept_in_step_before_each_event_is_read_once(db: Database, shop: Shop) -> None:
    app = Owner.app(uuid.uuid4())
    with tenant_context(shop.tenant_id), _statements(db) as sent:
        async with db.transaction() as session:
            for _ in range(3):  # as core/apps/webhooks.py delivers each event: in step, then deliver
                async with session.begin_nested():
                    await service.sync_owned_endpoint(session, app, url=URL, events=["*"], secret="s1")
                    assert await _created(session, owner=app) == 1

    endpoint_reads = [
        s for s in sent if s.startswith("SELECT webhook_endpoints.id, webhook_endpoints.events ")
    ]
    assert len(endpoint_reads) == 1  # the first sync created it; the others changed nothing


async def test_a_wakeup_left_by_a_rolled_back_savepoint_is_dropped_by_the_sweeper(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer, shop: Shop
) -> None:
    await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/hook"))
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            async with session.begin_nested():
                [kept] = await service.enqueue_deliveries(session, "customers.created", uuid.uuid4(), {})
            [undone] = await _rolled_back(
                session,
                lambda: service.enqueue_deliveries(session, "customers.created", uuid.uuid4(), {}),
            )
    # Both wake-ups were written at the commit; the second names a delivery that never was.
    assert await _wakeups(db) == {kept, undone}
    await runtime.drain()
    async with db.transaction() as session:
        await session.execute(update(WebhookWakeup).values(due_at=utcnow() - timedelta(seconds=1)))

    await sweep(runtime, db)

    assert len(receiver.requests_to("/hook")) == 1
    assert await _wakeups(db) == set()
