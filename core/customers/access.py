"""The one access path to customers, shared by the customer and contact use cases: scope
(own/team/all) decides what a caller sees, and an out-of-scope id is "not found"."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select, text, type_coerce, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto.phones import normalized_phone
from core.customers.models import Contact, Customer
from core.kernel.errors import Forbidden, Invalid, NotFound
from core.security.models import Membership
from core.security.principal import Principal
from core.security.scope import owner_filter, visible_owner_ids

__all__ = [
    "active_membership",
    "check_email",
    "contact_customer_in_scope",
    "customer_in_scope",
    "has_tag",
    "mark_contacted",
    "normalized_phone",
]


async def customer_in_scope(
    session: AsyncSession,
    principal: Principal,
    customer_id: uuid.UUID,
    permission: str,
    *,
    lock: bool = False,
    field: str | None = None,
) -> Customer:
    """The customer, if within the caller's scope of ``permission``; otherwise not found."""
    stmt = select(Customer).where(
        Customer.id == customer_id, await owner_filter(session, principal, permission, Customer.owner_id)
    )
    if lock:
        stmt = stmt.with_for_update()
    customer = await session.scalar(stmt)
    if customer is None:
        raise NotFound("The customer does not exist.", field=field) if field else NotFound()
    return customer


async def contact_customer_in_scope(
    session: AsyncSession, principal: Principal, contact_id: uuid.UUID, permission: str, *, field: str
) -> Customer:
    """The customer of contact ``contact_id``, if within the caller's scope of ``permission``;
    otherwise (or when no such contact exists) not found, naming ``field``."""
    stmt = (
        select(Customer)
        .join(Contact, (Contact.tenant_id == Customer.tenant_id) & (Contact.customer_id == Customer.id))
        .where(
            Contact.id == contact_id, await owner_filter(session, principal, permission, Customer.owner_id)
        )
    )
    customer = await session.scalar(stmt)
    if customer is None:
        raise NotFound("The contact does not exist.", field=field)
    return customer


async def mark_contacted(session: AsyncSession, customer_id: uuid.UUID, at: datetime) -> bool:
    """Move the customer's ``last_contacted_at`` up to ``at`` (never back), in one conditional
    UPDATE, so two activities logged at once cannot lower it. True when it moved. A follow-up
    restarts the public pool's clock, so a notice already sent may go out again later."""
    result = await session.execute(
        update(Customer)
        .where(
            Customer.id == customer_id,
            or_(Customer.last_contacted_at.is_(None), Customer.last_contacted_at < at),
        )
        .values(last_contacted_at=at, pool_noticed_at=None, version=Customer.version + 1)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def active_membership(
    session: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    permission: str,
    field: str,
    *,
    records: str = "customers",
) -> Membership:
    """The membership of ``user_id``, who must be an active member the caller may assign
    ``records`` to under ``permission`` (a rep: only themselves; a manager: their team)."""
    membership = await session.scalar(
        select(Membership).where(Membership.user_id == user_id, Membership.is_active.is_(True))
    )
    if membership is None:
        raise Invalid(
            "This person is not an active member of the account.", field=field, code="unknown_owner"
        )
    visible = await visible_owner_ids(session, principal, permission)
    if visible is not None and user_id not in visible:
        raise Forbidden(
            f"You may only assign {records} to people within your scope.",
            field=field,
            code="owner_out_of_scope",
        )
    return membership


def check_email(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or " " in value:
        raise Invalid("This is not an email address.", field=field, code="invalid_email")
    return value


def has_tag(session: AsyncSession, tag: str) -> ColumnElement[bool]:
    """Customers whose ``tags`` list holds ``tag`` (JSONB containment on PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        return type_coerce(Customer.tags, JSONB).contains([tag])
    clause = text("EXISTS (SELECT 1 FROM json_each(customers.tags) WHERE json_each.value = :tag)")
    return clause.bindparams(tag=tag)  # type: ignore[return-value]
