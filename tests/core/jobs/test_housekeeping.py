"""The housekeeping jobs registered with the scheduler purge what has expired, and only that."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select, update

from core.events.models import OutboxMessage
from core.events.service import record_job
from core.jobs.models import ProcessedMessage
from core.jobs.runtime import JobRuntime
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.idempotency import IdempotencyKey
from core.kernel.settings import Settings
from core.mail import MemoryMailer
from core.security.models import RefreshToken
from frontend_api.services import job_registry
from tests.core.jobs.conftest import count
from tests.helpers import signup

pytestmark = pytest.mark.anyio


def test_the_platform_registers_its_housekeeping_jobs_on_a_schedule() -> None:
    assert {
        "housekeeping.purge_outbox",
        "housekeeping.purge_idempotency_keys",
        "security.purge_expired_credentials",
    } <= set(job_registry().periodic)


@pytest.fixture
def expired_and_live_tokens(client: TestClient[Any]) -> None:
    """Two businesses, each with a live refresh token and an expired one."""
    for company in ("Old Co", "New Co"):
        owner = signup(client, company)
        client.post("/api/v1/auth/refresh", json={"refresh_token": owner["refresh_token"]})


async def _run(settings: Settings, db: Database, name: str) -> None:
    runtime = JobRuntime(dataclasses.replace(settings), db, job_registry(), MemoryMailer())
    await runtime.start(worker=True, relay=False, scheduler=False)
    try:
        async with db.transaction() as session:
            record_job(session, name, {}, None)
        await runtime.drain()
    finally:
        await runtime.stop()


async def test_expired_refresh_tokens_are_purged_in_every_tenant(
    expired_and_live_tokens: None, settings: Settings, db: Database, rls_free_db: Database
) -> None:
    async with rls_free_db.transaction() as session:
        tokens = (await session.scalars(select(RefreshToken).execution_options(all_tenants=True))).all()
        assert len(tokens) == 4
        expired = [t.id for t in tokens if t.used_at is not None]
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.id.in_(expired))
            .values(expires_at=utcnow() - timedelta(seconds=1))
            .execution_options(all_tenants=True)
        )

    await _run(settings, db, "security.purge_expired_credentials")

    async with rls_free_db.transaction() as session:
        left = (await session.scalars(select(RefreshToken).execution_options(all_tenants=True))).all()
    assert len(left) == 2
    assert all(t.used_at is None for t in left)
    assert len({t.tenant_id for t in left}) == 2


async def test_old_outbox_rows_are_purged_and_recent_ones_kept(settings: Settings, db: Database) -> None:
    async with db.transaction() as session:
        old = record_job(session, "housekeeping.purge_outbox", {}, None)
    async with db.transaction() as session:
        await session.execute(update(OutboxMessage).values(dispatched_at=utcnow() - timedelta(days=8)))
        session.add(
            ProcessedMessage(handler="job:x", message_id=old, processed_at=utcnow() - timedelta(days=8))
        )

    await _run(settings, db, "housekeeping.purge_outbox")

    async with db.transaction() as session:
        names = (await session.scalars(select(OutboxMessage.message_id))).all()
        processed = (await session.scalars(select(ProcessedMessage.handler))).all()
    assert old not in names
    assert len(names) == 1  # the request that ran the purge, sent today
    assert processed == ["job:housekeeping.purge_outbox"]
    assert await count(db, OutboxMessage) == 1


async def test_expired_idempotency_keys_are_purged_in_every_tenant(
    client: TestClient[Any], settings: Settings, db: Database, rls_free_db: Database
) -> None:
    role = {"name": "auditor", "grants": {"members.read": "all"}}
    for company in ("Old Co", "New Co"):
        owner = signup(client, company)
        for key in ("first-request-key", "second-request-key"):
            response = client.post(
                "/api/v1/roles",
                json={**role, "name": key},
                headers={**owner["headers"], "Idempotency-Key": key},
            )
            assert response.status_code == 201, response.text
    async with rls_free_db.transaction() as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == "first-request-key")
            .values(expires_at=utcnow() - timedelta(seconds=1))
            .execution_options(all_tenants=True)
        )

    await _run(settings, db, "housekeeping.purge_idempotency_keys")

    async with rls_free_db.transaction() as session:
        left = (await session.scalars(select(IdempotencyKey).execution_options(all_tenants=True))).all()
    assert sorted(k.key for k in left) == ["second-request-key", "second-request-key"]
    assert len({k.tenant_id for k in left}) == 2
