"""Webhook tests: a shop (a tenant with data keys), a local receiver, and a job runtime with
the webhook jobs (in-process worker, or the real Redis broker for the ``redis`` variant)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from core.jobs.housekeeping import NoPayload
from core.jobs.registry import JobRegistry
from core.jobs.runtime import JobRuntime
from core.jobs.service import enqueue
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.mail import MemoryMailer
from core.webhooks import jobs as webhook_jobs
from core.webhooks import service
from core.webhooks.models import WebhookWakeup
from core.webhooks.schemas import EndpointCreate, EndpointWithSecret
from tests.core.crypto.factories import Shop, new_shop
from tests.http_server import HTTPServer, running


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.redis)])
def hook_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """Loopback allowed, retries at once (a 0s schedule), three attempts, short timeouts."""
    redis = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    return dataclasses.replace(
        settings,
        redis_url=redis,
        webhook_allow_private_urls=True,
        webhook_retry_schedule=("0s",),
        webhook_max_attempts=3,
        webhook_timeout_ms=2000,
    )


RuntimeFactory = Callable[..., JobRuntime]


@pytest.fixture
async def runtimes(hook_settings: Settings, db: Database) -> AsyncIterator[RuntimeFactory]:
    started: list[JobRuntime] = []

    def make(**overrides: Any) -> JobRuntime:
        registry = JobRegistry()
        registry.add_jobs(webhook_jobs.JOBS)
        runtime = JobRuntime(dataclasses.replace(hook_settings, **overrides), db, registry, MemoryMailer())
        started.append(runtime)
        return runtime

    yield make
    for runtime in started:
        await runtime.stop()


@pytest.fixture
async def runtime(runtimes: RuntimeFactory) -> JobRuntime:
    started = runtimes()
    await started.start(worker=True, relay=False, scheduler=False)
    return started


@pytest.fixture
def receiver() -> Iterator[HTTPServer]:
    with running() as server:
        yield server


@pytest.fixture
async def shop(db: Database) -> Shop:
    return await new_shop(db)


async def add_endpoint(
    db: Database,
    settings: Settings,
    tenant_id: uuid.UUID,
    url: str,
    events: list[str] | None = None,
    **extra: Any,
) -> EndpointWithSecret:
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            return await service.create_endpoint(
                session, settings, EndpointCreate(url=url, events=events or ["*"], **extra)
            )


async def emit(
    db: Database, tenant_id: uuid.UUID, event_name: str = "customers.created", payload: Any = None
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """Enqueue deliveries of one event in a committed transaction: (event id, delivery ids)."""
    event_id = uuid.uuid4()
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            ids = await service.enqueue_deliveries(
                session,
                event_name,
                event_id,
                payload if payload is not None else {"customer_id": str(event_id)},
            )
    return event_id, ids


async def due_wakeups(db: Database) -> int:
    async with db.engine.connect() as conn:
        query = select(func.count()).select_from(WebhookWakeup).where(WebhookWakeup.due_at <= utcnow())
        return int((await conn.execute(query)).scalar_one())


async def sweep(runtime: JobRuntime, db: Database, rounds: int = 10) -> None:
    """Run the sweeper (``webhooks.wake_due``) through the job machinery until no retry is due."""
    for _ in range(rounds):
        if not await due_wakeups(db):
            return
        with tenant_context(None):
            async with db.transaction() as session:
                await enqueue(session, webhook_jobs.wake_due, NoPayload())
        await runtime.drain()
    raise AssertionError("retries were still due after the sweeper ran")
