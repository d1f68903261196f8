"""The jobs of outgoing webhooks.

* ``webhooks.deliver`` (tenant job): one attempt of each of its deliveries. Enqueued with the
  delivery and sent only once its transaction commits (straight from an event handler's
  commit, else through the outbox), so nothing is sent for a transaction that rolled back.
  The jobs of one handler's commit are merged into one per :data:`MERGE_LIMIT` deliveries of
  its tenant. It never raises for a failed attempt: the retry schedule of webhooks is its own
  (``next_attempt_at``), not the job machinery's.
* ``webhooks.wake_due`` (platform, every 15 seconds): enqueues ``webhooks.deliver`` for each
  delivery whose wake-up is due — retries, and deliveries whose worker died mid-attempt.
* ``webhooks.purge`` (platform, daily) → ``webhooks.purge_tenant`` per tenant: deletes
  finished deliveries older than ``HUIKE_WEBHOOK_RETENTION_DAYS``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.jobs.context import JobContext
from core.jobs.housekeeping import NoPayload
from core.jobs.registry import Job, Periodic, job
from core.jobs.service import enqueue, enqueue_for_each_tenant
from core.kernel.clock import utcnow
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.webhooks.delivery import attempt_deliveries, lease
from core.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookWakeup

__all__ = [
    "JOBS",
    "MERGE_LIMIT",
    "PERIODIC",
    "Deliver",
    "deliver",
    "merge_deliveries",
    "purge",
    "purge_tenant",
    "wake_due",
    "wake_due_deliveries",
]

#: Wake-ups handled per run of the sweeper; the next run takes the rest.
WAKE_BATCH = 1000
#: Deliveries deleted per statement by the purge.
PURGE_BATCH = 5000
#: The most deliveries one ``webhooks.deliver`` job attempts: its POSTs run side by side, and
#: its claim and record are one statement or a few per delivery, in one transaction each.
MERGE_LIMIT = 10


class Deliver(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The deliveries to attempt: ``delivery_id``, then ``more`` of the same tenant (a
    payload of one delivery is encoded as before the merge existed)."""

    delivery_id: uuid.UUID
    more: list[uuid.UUID] = msgspec.field(default_factory=list)

    @property
    def delivery_ids(self) -> list[uuid.UUID]:
        return [self.delivery_id, *self.more]


def merge_deliveries(payloads: list[Deliver]) -> list[Deliver]:
    """The deliveries of several jobs, in order and each once, as jobs of at most
    :data:`MERGE_LIMIT`."""
    ids = list(dict.fromkeys(i for payload in payloads for i in payload.delivery_ids))
    chunks = [ids[start : start + MERGE_LIMIT] for start in range(0, len(ids), MERGE_LIMIT)]
    return [Deliver(delivery_id=first, more=rest) for first, *rest in chunks]


# Its claim makes a second copy harmless, and its attempts commit in transactions of their own:
# no runner transaction is held open across the POSTs.
@job("webhooks.deliver", Deliver, idempotent=True, merge=merge_deliveries)
async def deliver(ctx: JobContext, payload: Deliver) -> None:
    await attempt_deliveries(ctx.db, ctx.settings, payload.delivery_ids)


@job("webhooks.wake_due", NoPayload, platform=True)
async def wake_due(ctx: JobContext, _: NoPayload) -> None:
    await wake_due_deliveries(ctx.session, ctx.settings)


async def wake_due_deliveries(session: AsyncSession, settings: Settings) -> int:
    """Enqueue an attempt of every delivery whose wake-up is due, and move each wake-up past
    the attempt's lease (the attempt sets it precisely). Returns how many."""
    now = utcnow()
    query = select(WebhookWakeup).where(WebhookWakeup.due_at <= now).order_by(WebhookWakeup.due_at)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    wakeups = (await session.scalars(query.limit(WAKE_BATCH))).all()
    for wakeup in wakeups:
        with tenant_context(wakeup.tenant_ref):
            await enqueue(session, deliver, Deliver(delivery_id=wakeup.delivery_id))
        wakeup.due_at = now + lease(settings)
    return len(wakeups)


@job("webhooks.purge", NoPayload, platform=True)
async def purge(ctx: JobContext, _: NoPayload) -> None:
    """Deliveries are tenant-owned (under RLS): one tenant job per tenant."""
    await enqueue_for_each_tenant(ctx.session, purge_tenant, NoPayload())


@job("webhooks.purge_tenant", NoPayload)
async def purge_tenant(ctx: JobContext, _: NoPayload) -> None:
    """Finished deliveries (and, by cascade, their attempts) past the retention period."""
    cutoff = utcnow() - timedelta(days=ctx.settings.webhook_retention_days)
    while True:
        ids = (
            await ctx.session.scalars(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.status.in_(DeliveryStatus.FINISHED), WebhookDelivery.updated_at < cutoff
                )
                .limit(PURGE_BATCH)
            )
        ).all()
        if not ids:
            return
        await ctx.session.execute(
            delete(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .execution_options(synchronize_session=False)
        )


JOBS: list[Job[Any]] = [deliver, wake_due, purge, purge_tenant]
PERIODIC = [Periodic(wake_due, every=timedelta(seconds=15)), Periodic(purge, cron="41 4 * * *")]
