"""Housekeeping of the job machinery itself, run by the scheduler."""

from __future__ import annotations

from datetime import timedelta

import msgspec
from sqlalchemy import delete

from core.events.models import OutboxMessage
from core.jobs.context import JobContext
from core.jobs.models import DeadLetter, ProcessedMessage
from core.jobs.registry import Periodic, job
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


JOBS = [purge_outbox]
PERIODIC = [Periodic(purge_outbox, cron="17 3 * * *")]
