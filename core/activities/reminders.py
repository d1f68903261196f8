"""Task reminders: a periodic job fans out to every tenant; each tenant's job claims its due
reminders with a conditional UPDATE (``reminded_at IS NULL``), so two schedulers or two
copies of the job never send one twice, and mails the assignee in their language through the
mail job (after this job's commit). An assignee who gave a work mobile is also texted, through
the text-message job (:mod:`core.sms.jobs`): a job of its own, so a failing SMS gateway
neither loses the mail nor sends it twice. Times are shown in the business's time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

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
from core.mail.templates import normalize_locale
from core.security.models import Membership, User
from core.sms import TextMessage
from core.sms.jobs import send_text_after_commit

__all__ = ["JOBS", "PERIODIC", "SMS_PURPOSE", "send_due_reminders", "sms_time"]

#: At most this many reminders per tenant and run; the next run takes the rest.
BATCH = 500
#: The purpose of the reminder's text message; its template gets ``subject`` and ``time``.
SMS_PURPOSE = "activity.reminder"
#: Gateways cap a template parameter (Aliyun: 35 characters); the subject is cut well below.
SMS_SUBJECT_LENGTH = 20
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


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


def sms_time(moment: datetime, language: str) -> str:
    """``moment`` as short as a text message wants it: ``12月1日 15:00``, ``Dec 1 15:00``."""
    if language == "zh-CN":
        return f"{moment.month}月{moment.day}日 {moment:%H:%M}"
    return f"{_MONTHS[moment.month - 1]} {moment.day} {moment:%H:%M}"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SMS_SUBJECT_LENGTH else text[: SMS_SUBJECT_LENGTH - 1] + "…"


async def _mail(session: AsyncSession, settings: Settings, task_id: object) -> int:
    task = await session.scalar(select(Activity).where(Activity.id == task_id))
    if task is None or task.assignee_id is None:
        return 0
    found = (
        await session.execute(
            select(User, Membership)
            .join(Membership, Membership.user_id == User.id)
            .options(undefer(Membership.phone))
            .where(User.id == task.assignee_id, Membership.is_active.is_(True), User.is_active.is_(True))
        )
    ).first()
    if found is None:  # left the business: nobody to remind
        return 0
    assignee, membership = found
    tenant = await session.get_one(Tenant, task.tenant_id)
    zone = ZoneInfo(tenant.timezone)
    due_at = task.due_at.astimezone(zone) if task.due_at else None
    message = render_message(
        "task_reminder",
        assignee.locale,
        to=assignee.email,
        person=assignee.full_name,
        tenant_name=tenant.name,
        subject=task.subject,
        due_at=f"{due_at:%Y-%m-%d %H:%M}" if due_at else None,
        timezone=tenant.timezone,
        link=f"{settings.public_url.rstrip('/')}/activities/{task.id}",
    )
    await send_after_commit(session, settings, message)
    if membership.phone:
        language = normalize_locale(assignee.locale)
        when = due_at or (task.remind_at or utcnow()).astimezone(zone)
        text = TextMessage(
            to=str(membership.phone),
            purpose=SMS_PURPOSE,
            params={"subject": _short(task.subject), "time": sms_time(when, language)},
            language=language,
        )
        await send_text_after_commit(session, settings, text)
    return 1


JOBS = [send_reminders, send_tenant_reminders]
PERIODIC = [Periodic(send_reminders, every=timedelta(minutes=1))]
