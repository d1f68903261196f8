"""Housekeeping of the job machinery itself, run by the scheduler."""

from __future__ import annotations

from datetime import timedelta

import msgspec
from sqlalchemy import delete

from core.events.models import OutboxMessage
from core.jobs.context import JobContext
from core.jobs.models import DeadLetter, ProcessedMessage
from core.jobs.registry import Periodic, job
from core.jobs.service import enqueue_for_each_tenant
from core.kernel import idempotency
from core.kernel.clock import utcnow

__all__ = ["JOBS", "PERIODIC", "NoPayload"]


class NoPayload(msgspec.Struct):
    pass


@job("housekeeping.purge_outbox", NoPayload, platform=True)
async def purge_outbox(ctx: JobContext, _: NoPayload) -> None:
    """Delete sent outbox rows, processed-message records and replayed dead letters older
    than ``HUIKE_EVENTS_RETENTION_DAYS``. A message redelivered after that would run again."""
    cutoff = utcnow() - timedelta(days=ctx.settings.events_retention_days)
    await ctx.session.execute(delete(OutboxMessage).where(OutboxMessage.dispatched_at < cutoff))
    await ctx.session.execute(delete(ProcessedMessage).where(ProcessedMessage.processed_at < cutoff))
    await ctx.session.execute(delete(DeadLetter).where(DeadLetter.replayed_at < cutoff))


@job("housekeeping.purge_idempotency_keys", NoPayload, platform=True)
async def purge_idempotency_keys(ctx: JobContext, _: NoPayload) -> None:
    """Idempotency keys are tenant-owned (under RLS): one tenant job per tenant."""
    await enqueue_for_each_tenant(ctx.session, purge_tenant_idempotency_keys, NoPayload())


@job("housekeeping.purge_tenant_idempotency_keys", NoPayload)
async def purge_tenant_idempotency_keys(ctx: JobContext, _: NoPayload) -> None:
    """One tenant's idempotency keys older than their 24 hours."""
    await idempotency.delete_expired(ctx.session)


JOBS = [purge_outbox, purge_idempotency_keys, purge_tenant_idempotency_keys]
PERIODIC = [
    Periodic(purge_outbox, cron="17 3 * * *"),
    Periodic(purge_idempotency_keys, every=timedelta(hours=1)),
]
