"""Enqueueing a job from a service: through the outbox, in the caller's transaction; or,
from inside a job, straight to the broker once the job's transaction commits."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.events.models import OutboxKind
from core.events.service import record_job
from core.jobs.registry import Job
from core.jobs.runner import Envelope, after_commit_of
from core.kernel.ids import new_id
from core.kernel.models import Tenant
from core.kernel.tenancy import current_tenant_id, tenant_context

__all__ = ["enqueue", "enqueue_after_commit", "enqueue_for_each_tenant"]

P = TypeVar("P")


async def enqueue(session: AsyncSession, job: Job[P], payload: P) -> uuid.UUID:
    """Ask for ``job`` to run with ``payload`` once ``session``'s transaction commits.

    A tenant job runs for the tenant in context; a platform job runs with none.

    Raises:
        NoTenantInContext: a tenant job enqueued with no tenant in context.
    """
    tenant_id = None if job.platform else current_tenant_id()
    data: dict[str, Any] = msgspec.to_builtins(payload)
    return record_job(session, job.name, data, tenant_id)


async def enqueue_after_commit(session: AsyncSession, job: Job[P], payload: P) -> uuid.UUID:
    """:func:`enqueue`, minus the relay's pass when called inside a job (a handler): the job
    goes straight to the broker once the job's transaction commits, and not at all if it rolls
    back. Elsewhere (a web request) it is :func:`enqueue`.

    Not durable between the commit and the send: a process that dies there loses the job. So
    only for a job whose own committed state brings it back (a webhook delivery's wake-up).

    Raises:
        NoTenantInContext: a tenant job enqueued with no tenant in context.
    """
    collected = after_commit_of(session)
    if collected is None or job.name not in collected.known:
        return await enqueue(session, job, payload)
    message_id = new_id()
    collected.envelopes.append(
        Envelope(
            kind=OutboxKind.JOB,
            name=job.name,
            message_id=message_id,
            tenant_id=None if job.platform else current_tenant_id(),
            payload=msgspec.to_builtins(payload),
        )
    )
    return message_id


async def enqueue_for_each_tenant(session: AsyncSession, job: Job[P], payload: P) -> int:
    """Fan a tenant ``job`` out to every tenant (from a platform job: tenant-owned rows are
    under RLS, so per-tenant periodic work runs as one job per tenant). Returns how many."""
    tenant_ids = (await session.scalars(select(Tenant.id))).all()
    for tenant_id in tenant_ids:
        with tenant_context(tenant_id):
            await enqueue(session, job, payload)
    return len(tenant_ids)
