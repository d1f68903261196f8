"""Enqueueing a job from a service: through the outbox, in the caller's transaction."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.events.service import record_job
from core.jobs.registry import Job
from core.kernel.models import Tenant
from core.kernel.tenancy import current_tenant_id, tenant_context

__all__ = ["enqueue", "enqueue_for_each_tenant"]

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


async def enqueue_for_each_tenant(session: AsyncSession, job: Job[P], payload: P) -> int:
    """Fan a tenant ``job`` out to every tenant (from a platform job: tenant-owned rows are
    under RLS, so per-tenant periodic work runs as one job per tenant). Returns how many."""
    tenant_ids = (await session.scalars(select(Tenant.id))).all()
    for tenant_id in tenant_ids:
        with tenant_context(tenant_id):
            await enqueue(session, job, payload)
    return len(tenant_ids)
