"""The public pool (公海): customers nobody owns. Reps browse it and claim from it up to the
business's cap; owners and managers release customers into it; the periodic job
(``core/customers/jobs.py``) returns the customers nobody followed up. Each public function
is one transaction's worth of work."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.customers.access import customer_in_scope
from core.customers.events import CustomerClaimed, CustomerReturnedToPool
from core.customers.models import Customer, PoolReason
from core.customers.ownership import assign, put_in_pool
from core.customers.permissions import CLAIM, RELEASE
from core.customers.pool_rules import rules_of
from core.customers.schemas import CustomerFilter, CustomerView, ReleaseRequest
from core.customers.service import SORTABLE, searched
from core.customers.views import customer_view
from core.customfields.service import custom_sort_keys
from core.events.service import record_event
from core.kernel.concurrency import ensure_version
from core.kernel.errors import Conflict, Forbidden, NotFound
from core.kernel.pagination import Page, PageRequest, paginate
from core.security.models import Membership
from core.security.principal import Principal

__all__ = ["claim_customer", "get_pool_customer", "list_pool", "record_deal", "release_customer"]

POOL_SORTABLE = {**SORTABLE, "pool_entered_at": Customer.pool_entered_at}


def _check(principal: Principal) -> None:
    if not principal.can(CLAIM):
        raise Forbidden(f"You need the permission {CLAIM!r} for this.", code="permission_denied")


async def list_pool(
    session: AsyncSession, principal: Principal, page: PageRequest, f: CustomerFilter
) -> Page[CustomerView]:
    """The customers in the pool, filtered like the customer list (masked unless the caller
    holds ``customers.read_sensitive``)."""
    _check(principal)
    stmt = (await searched(session, f)).where(Customer.owner_id.is_(None))
    return await paginate(
        session,
        stmt,
        Customer.id,
        page,
        lambda c: customer_view(c, principal),
        sortable=POOL_SORTABLE,
        sort_keys=await custom_sort_keys(session, "customer", Customer.custom_fields, page),
    )


async def _in_pool(session: AsyncSession, customer_id: uuid.UUID) -> Customer:
    customer = await session.scalar(
        select(Customer).where(Customer.id == customer_id, Customer.owner_id.is_(None))
    )
    if customer is None:  # missing, another business's, or owned by someone: one answer
        raise NotFound()
    return customer


async def get_pool_customer(
    session: AsyncSession, principal: Principal, customer_id: uuid.UUID
) -> CustomerView:
    _check(principal)
    return customer_view(await _in_pool(session, customer_id), principal)


async def claim_customer(session: AsyncSession, principal: Principal, customer_id: uuid.UUID) -> CustomerView:
    """Take a pool customer for oneself, within the cap of owned customers.

    Two claims of one customer: the conditional locked read lets one win, the other gets
    ``409 already_claimed``. Two claims by one rep: their membership row is locked before the
    count, so they queue and cannot both pass the cap.
    """
    _check(principal)
    if principal.user_id is None or principal.membership_id is None:
        raise Forbidden("Only a person can claim a customer.", code="not_a_person")
    await _in_pool(session, customer_id)
    membership = await session.scalar(
        select(Membership)
        .where(Membership.id == principal.membership_id, Membership.is_active.is_(True))
        .with_for_update()
    )
    if membership is None:
        raise Forbidden("Your membership is not active.", code="inactive_member")
    rules = await rules_of(session)
    if rules.max_owned_customers is not None:
        owned = await session.scalar(
            select(func.count()).select_from(Customer).where(Customer.owner_id == principal.user_id)
        )
        if (owned or 0) >= rules.max_owned_customers:
            raise Conflict(
                f"You already own {owned} customers, the most the business allows "
                f"(max_owned_customers = {rules.max_owned_customers}); release one to claim another.",
                code="pool_cap_reached",
                field="max_owned_customers",
                extensions={"max_owned_customers": rules.max_owned_customers, "owned": owned},
            )
    customer = await session.scalar(
        select(Customer)
        .where(Customer.id == customer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if customer is None or customer.owner_id is not None:
        raise Conflict("Someone claimed this customer a moment ago.", code="already_claimed")
    assign(customer, principal.user_id, membership.team_id)
    await session.flush()
    await record_event(
        session,
        CustomerClaimed(customer_id=customer.id, owner_id=principal.user_id, actor_id=principal.user_id),
    )
    return customer_view(customer, principal)


async def release_customer(
    session: AsyncSession,
    principal: Principal,
    customer_id: uuid.UUID,
    request: ReleaseRequest,
    *,
    expected_version: int | None = None,
) -> CustomerView:
    """Put a customer within the caller's ``customers.release`` scope into the pool."""
    customer = await customer_in_scope(session, principal, customer_id, RELEASE, lock=True)
    ensure_version(customer, expected_version)
    previous = customer.owner_id
    if previous is None:
        raise Conflict("The customer is already in the pool.", code="already_in_pool")
    note = (request.reason or "").strip() or None
    put_in_pool(customer, PoolReason.RELEASED, note, principal.user_id)
    await session.flush()
    await record_event(
        session,
        CustomerReturnedToPool(
            customer_id=customer.id,
            from_owner_id=previous,
            reason=PoolReason.RELEASED,
            actor_id=principal.user_id,
        ),
    )
    return customer_view(customer, principal)


async def record_deal(session: AsyncSession, customer_id: uuid.UUID, at: datetime) -> bool:
    """A deal with the customer was won at ``at`` (the opportunities domain calls this when an
    opportunity is won, inside its own transaction): moves ``last_deal_at`` up to ``at``, never
    back, in one conditional UPDATE. True when it moved; a missing customer is left alone."""
    result = await session.execute(
        update(Customer)
        .where(
            Customer.id == customer_id,
            (Customer.last_deal_at.is_(None)) | (Customer.last_deal_at < at),
        )
        .values(last_deal_at=at, pool_noticed_at=None, version=Customer.version + 1)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
