"""The public pool's periodic job: every hour one tenant job per tenant (customers are under
RLS) returns the customers whose rules say so, then tells owners about the customers that will
return within the notice window, once per customer and ownership, even when two runs race."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.customers.events import CustomerReturnedToPool
from core.customers.models import Customer, PoolRules
from core.customers.ownership import put_in_pool
from core.customers.pool_rules import due_for_notice, due_to_return, return_reason, rules_of
from core.events.service import record_event
from core.jobs.context import JobContext
from core.jobs.housekeeping import NoPayload
from core.jobs.registry import Periodic, job
from core.jobs.service import enqueue_for_each_tenant
from core.kernel.clock import utcnow
from core.kernel.models import Tenant
from core.kernel.settings import Settings
from core.kernel.tenancy import current_tenant_id
from core.mail import render_message
from core.mail.jobs import send_after_commit
from core.security.models import Membership, User

__all__ = ["JOBS", "PERIODIC", "return_due_customers", "send_pool_notices"]

#: At most this many customers per tenant, run and step; the next run takes the rest.
BATCH = 500


@job("customers.run_pool", NoPayload, platform=True)
async def run_pool(ctx: JobContext, _: NoPayload) -> None:
    await enqueue_for_each_tenant(ctx.session, run_tenant_pool, NoPayload())


@job("customers.run_tenant_pool", NoPayload)
async def run_tenant_pool(ctx: JobContext, _: NoPayload) -> None:
    await return_due_customers(ctx.session)
    await send_pool_notices(ctx.session, ctx.settings)


async def return_due_customers(session: AsyncSession) -> int:
    """Put the tenant's due customers in the pool, each with ``customers.returned_to_pool``
    (and its audit entry, actor: the job). Rows another run holds are skipped, and a row
    changed meanwhile (a follow-up) is re-checked under its lock. Returns how many."""
    rules = await rules_of(session)
    if not rules.enabled:
        return 0
    now = utcnow()
    rows = (
        await session.execute(
            select(Customer, return_reason(rules, now))
            .where(due_to_return(rules, now))
            .order_by(Customer.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True, of=Customer)
        )
    ).all()
    for customer, reason in rows:
        previous = customer.owner_id
        if previous is None:
            continue
        put_in_pool(customer, reason, None, None)
        await record_event(
            session, CustomerReturnedToPool(customer_id=customer.id, from_owner_id=previous, reason=reason)
        )
    await session.flush()
    return len(rows)


async def send_pool_notices(session: AsyncSession, settings: Settings) -> int:
    """Claim the notices due (``pool_noticed_at IS NULL`` in the UPDATE: a racing run claims
    none twice) and mail each owner one list of their customers. Returns how many mails."""
    rules = await rules_of(session)
    if not rules.enabled or not rules.notice_days:
        return 0
    now = utcnow()
    horizon = now + timedelta(days=rules.notice_days)
    candidates = (
        await session.scalars(
            select(Customer.id).where(due_for_notice(rules, now)).order_by(Customer.id).limit(BATCH)
        )
    ).all()
    if not candidates:
        return 0
    claimed = (
        await session.execute(
            update(Customer)
            .where(
                Customer.id.in_(candidates),
                Customer.pool_noticed_at.is_(None),
                Customer.owner_id.is_not(None),
            )
            .values(pool_noticed_at=now)
            .returning(Customer.id, Customer.owner_id, Customer.name, Customer.level)
        )
    ).all()
    reasons = dict(
        (
            await session.execute(
                select(Customer.id, return_reason(rules, horizon)).where(Customer.id.in_(candidates))
            )
        ).all()
    )
    by_owner: dict[uuid.UUID, list[dict[str, object]]] = defaultdict(list)
    for customer_id, owner_id, name, level in claimed:
        if owner_id is None:
            continue
        by_owner[owner_id].append(
            {
                "id": customer_id,
                "name": name,
                "reason": reasons.get(customer_id),
                "days": _follow_up_days(rules, level),
                "link": f"{settings.public_url.rstrip('/')}/customers/{customer_id}",
            }
        )
    sent = 0
    for owner_id, customers in by_owner.items():
        sent += await _mail(session, settings, rules, owner_id, customers, f"{horizon:%Y-%m-%d}")
    return sent


def _follow_up_days(rules: PoolRules, level: str | None) -> int | None:
    levels = rules.follow_up_days or {}
    return levels.get(level or "", rules.default_follow_up_days)


async def _mail(
    session: AsyncSession,
    settings: Settings,
    rules: PoolRules,
    owner_id: uuid.UUID,
    customers: list[dict[str, object]],
    return_on: str,
) -> int:
    owner = await session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(User.id == owner_id, Membership.is_active.is_(True), User.is_active.is_(True))
    )
    if owner is None:  # left the business: nobody to tell (the customers still return)
        return 0
    tenant = await session.get_one(Tenant, current_tenant_id())
    message = render_message(
        "pool_notice",
        owner.locale,
        to=owner.email,
        person=owner.full_name,
        tenant_name=tenant.name,
        customers=sorted(customers, key=lambda c: str(c["name"])),
        return_on=return_on,
        no_deal_days=rules.no_deal_days,
    )
    await send_after_commit(session, settings, message)
    return 1


JOBS = [run_pool, run_tenant_pool]
PERIODIC = [Periodic(run_pool, cron="23 * * * *")]
