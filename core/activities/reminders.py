"""Task reminders: a periodic job fans out to every tenant; each tenant's job claims its due
reminders with a conditional UPDATE (``reminded_at IS NULL``), so two schedulers or two
copies of the job never send one twice, and mails the assignee in their language through the
mail job (after this job's commit)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.activities.models import Activity, TaskStatus
from core.jobs.context import JobContext
from core.jobs.housekeeping import NoPayload
from core.jobs.registry import Periodic, job
from core.jobs.service import enqueue_for_each_tenant
from core.kernel.clock import utcnow
from core.kernel.models import Tenant
from core.kernel.settings import Settings
from core.mail import render_message
from core.mail.jobs import send_after_commit
from core.security.models import Membership, User

__all__ = ["JOBS", "PERIODIC", "send_due_reminders"]

#: At most this many reminders per tenant and run; the next run takes the rest.
BATCH = 500


@job("activities.send_reminders", NoPayload, platform=True)
async def send_reminders(ctx: JobContext, _: NoPayload) -> None:
    """Tasks are tenant-owned (under RLS): one tenant job per tenant."""
    await enqueue_for_each_tenant(ctx.session, send_tenant_reminders, NoPayload())


@job("activities.send_tenant_reminders", NoPayload)
async def send_tenant_reminders(ctx: JobContext, _: NoPayload) -> None:
    await send_due_reminders(ctx.session, ctx.settings)


async def send_due_reminders(session: AsyncSession, settings: Settings) -> int:
    """Claim and mail the open tasks of the tenant in context whose ``remind_at`` has passed.
    Returns how many were sent."""
    now = utcnow()
    due = (
        await session.scalars(
            select(Activity.id)
            .where(
                Activity.status == TaskStatus.OPEN, Activity.remind_at <= now, Activity.reminded_at.is_(None)
            )
            .order_by(Activity.remind_at)
            .limit(BATCH)
        )
    ).all()
    sent = 0
    for task_id in due:
        claimed = await session.execute(
            update(Activity)
            .where(Activity.id == task_id, Activity.reminded_at.is_(None), Activity.status == TaskStatus.OPEN)
            .values(reminded_at=now)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            sent += await _mail(session, settings, task_id)
    return sent


async def _mail(session: AsyncSession, settings: Settings, task_id: object) -> int:
    task = await session.scalar(select(Activity).where(Activity.id == task_id))
    if task is None or task.assignee_id is None:
        return 0
    assignee = await session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(User.id == task.assignee_id, Membership.is_active.is_(True), User.is_active.is_(True))
    )
    if assignee is None:  # left the business: nobody to remind
        return 0
    tenant = await session.get_one(Tenant, task.tenant_id)
    message = render_message(
        "task_reminder",
        assignee.locale,
        to=assignee.email,
        person=assignee.full_name,
        tenant_name=tenant.name,
        subject=task.subject,
        due_at=f"{task.due_at:%Y-%m-%d %H:%M}" if task.due_at else None,
        link=f"{settings.public_url.rstrip('/')}/activities/{task.id}",
    )
    await send_after_commit(session, settings, message)
    return 1


JOBS = [send_reminders, send_tenant_reminders]
PERIODIC = [Periodic(send_reminders, every=timedelta(minutes=1))]
