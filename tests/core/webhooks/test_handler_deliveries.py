"""Deliveries made by an event handler (the ``webhooks`` plugin's path): their jobs go to
the broker straight from the handler's commit, not through the outbox and a second relay
pass, merged into one job per ten deliveries; nothing is sent for a handler that rolls back,
and a job lost between the commit and the broker is sent by the sweeper."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any, ClassVar

import dramatiq
import pytest
from dramatiq.middleware import Middleware
from sqlalchemy import func, select, update

from core.events.models import OutboxMessage
from core.events.schemas import DomainEvent
from core.events.service import record_event
from core.jobs.context import JobContext
from core.jobs.models import DeadLetter
from core.jobs.registry import JobRegistry, handler
from core.jobs.runner import Envelope
from core.jobs.runtime import JobRuntime
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.mail import MemoryMailer
from core.webhooks import jobs as webhook_jobs
from core.webhooks import service, signing
from core.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookWakeup
from tests.core.crypto.factories import Shop
from tests.core.webhooks.conftest import add_endpoint, sweep
from tests.http_server import HTTPServer

pytestmark = pytest.mark.anyio


class OrderShipped(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "tests.order_shipped"
    order: str


@dataclasses.dataclass
class Switch:
    fail_after_enqueueing: bool = False


@pytest.fixture
async def make_runtime(hook_settings: Settings, db: Database) -> AsyncIterator[Callable[..., JobRuntime]]:
    """Runtimes with the webhook jobs and a handler that delivers ``tests.order_shipped``."""
    started: list[JobRuntime] = []

    def make(switch: Switch | None = None, **overrides: Any) -> JobRuntime:
        switch = switch or Switch()

        @handler(OrderShipped, name="tests.deliver_order_shipped")
        async def deliver_it(ctx: JobContext, event: OrderShipped) -> None:
            assert ctx.message_id is not None
            await service.enqueue_deliveries(ctx.session, event.name, ctx.message_id, event)
            if switch.fail_after_enqueueing:
                raise RuntimeError("the handler failed after enqueueing")

        registry = JobRegistry()
        registry.add_jobs(webhook_jobs.JOBS)
        registry.add_handlers([deliver_it])
        runtime = JobRuntime(dataclasses.replace(hook_settings, **overrides), db, registry, MemoryMailer())
        started.append(runtime)
        return runtime

    yield make
    for runtime in started:
        await runtime.stop()


class SentMessages(Middleware):
    """The actor of every message the broker took."""

    def __init__(self) -> None:
        self.actors: list[str] = []

    def after_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message[Any], delay: int) -> None:
        self.actors.append(message.actor_name)


async def _ship(db: Database, shop: Shop, order: str = "SO-1") -> None:
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            await record_event(session, OrderShipped(order=order))


async def _deliveries(db: Database, shop: Shop) -> list[WebhookDelivery]:
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            return list((await session.scalars(select(WebhookDelivery))).all())


async def _outbox_rows(db: Database, name: str) -> int:
    async with db.engine.connect() as conn:
        query = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.name == name)
        return int((await conn.execute(query)).scalar_one())


async def _arrived(receiver: HTTPServer, path: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not receiver.requests_to(path):  # the receiver answers in a thread of its own
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing arrived at {path} within {seconds}s")
        await asyncio.sleep(0.02)


async def test_a_handlers_delivery_is_sent_right_after_its_commit_without_a_second_relay_pass(
    db: Database,
    hook_settings: Settings,
    make_runtime: Callable[..., JobRuntime],
    receiver: HTTPServer,
    shop: Shop,
) -> None:
    await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/hook"), events=["tests.*"])
    await _ship(db, shop)
    runtime = make_runtime()
    await runtime.start(worker=True, relay=False, scheduler=False)

    assert await runtime.relay.run_once() == 1  # the event, to its handler; no pass after it

    await _arrived(receiver, "/hook")
    [delivery] = await _deliveries(db, shop)
    assert delivery.event_name == "tests.order_shipped"
    assert await _outbox_rows(db, "webhooks.deliver") == 0


async def test_a_handler_that_rolls_back_after_enqueueing_sends_nothing(
    db: Database,
    hook_settings: Settings,
    make_runtime: Callable[..., JobRuntime],
    receiver: HTTPServer,
    shop: Shop,
) -> None:
    await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/hook"), events=["tests.*"])
    await _ship(db, shop)
    runtime = make_runtime(Switch(fail_after_enqueueing=True), job_max_retries=1, job_min_backoff_ms=1)
    await runtime.start(worker=True, relay=False, scheduler=False)

    await runtime.drain()
    await sweep(runtime, db)

    assert receiver.received == []
    assert await _deliveries(db, shop) == []
    async with db.engine.connect() as conn:
        assert (await conn.execute(select(WebhookWakeup))).all() == []
        [dead] = (await conn.execute(select(DeadLetter.actor, DeadLetter.attempts))).all()
    assert dead == ("handler:tests.deliver_order_shipped", 2)


async def test_a_delivery_job_lost_after_the_handlers_commit_is_sent_by_the_sweeper(
    db: Database,
    hook_settings: Settings,
    make_runtime: Callable[..., JobRuntime],
    receiver: HTTPServer,
    shop: Shop,
) -> None:
    await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/hook"), events=["tests.*"])
    await _ship(db, shop)
    runtime = make_runtime()

    def broker_gone(envelopes: list[Envelope]) -> None:
        raise ConnectionError("the worker lost the broker right after the commit")

    runtime.runner.send_jobs = broker_gone
    await runtime.start(worker=True, relay=False, scheduler=False)
    await runtime.drain()
    [delivery] = await _deliveries(db, shop)
    assert (delivery.status, receiver.received) == (DeliveryStatus.PENDING, [])

    # Its first wake-up (minutes later) brings it back.
    async with db.transaction() as session:
        await session.execute(update(WebhookWakeup).values(due_at=utcnow() - timedelta(seconds=1)))
    await sweep(runtime, db)

    assert len(receiver.requests_to("/hook")) == 1
    [delivery] = await _deliveries(db, shop)
    assert delivery.status == DeliveryStatus.SUCCEEDED


async def test_a_handlers_deliveries_go_as_one_job_per_ten_each_signed_and_logged_on_its_own(
    db: Database,
    hook_settings: Settings,
    make_runtime: Callable[..., JobRuntime],
    receiver: HTTPServer,
    shop: Shop,
) -> None:
    count = webhook_jobs.MERGE_LIMIT + 2
    secrets = {}
    for n in range(count):
        endpoint = await add_endpoint(
            db, hook_settings, shop.tenant_id, receiver.url(f"/hook{n}"), ["tests.*"]
        )
        secrets[f"/hook{n}"] = endpoint.secret
    await _ship(db, shop)
    runtime = make_runtime()
    sent = SentMessages()
    runtime.broker.add_middleware(sent)
    await runtime.start(worker=True, relay=False, scheduler=False)

    await runtime.drain()

    assert sent.actors.count("job:webhooks.deliver") == math.ceil(count / webhook_jobs.MERGE_LIMIT) == 2
    assert sorted(r.path for r in receiver.received) == sorted(secrets)
    deliveries = await _deliveries(db, shop)
    for request in receiver.received:
        assert signing.verify(secrets[request.path], request.header("Huike-Signature") or "", request.body)
    assert {r.header("Huike-Delivery") for r in receiver.received} == {str(d.id) for d in deliveries}
    assert {(d.status, d.attempts) for d in deliveries} == {(DeliveryStatus.SUCCEEDED, 1)}
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            attempts = (
                await session.execute(select(WebhookAttempt.delivery_id, WebhookAttempt.outcome))
            ).all()
    assert sorted(attempts) == sorted((d.id, "succeeded") for d in deliveries)
