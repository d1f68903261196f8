"""Duplicate detection: the same normalized phone or email on any customer or contact, or
the same company name (case-insensitive). The answer points at the existing customer."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto.fields import matches
from core.customers.models import Contact, Customer, CustomerKind
from core.kernel.errors import Conflict

__all__ = ["ensure_no_duplicate"]


async def _by(
    session: AsyncSession, attribute: str, value: str, exclude: uuid.UUID | None
) -> uuid.UUID | None:
    own = select(Customer.id).where(await matches(session, getattr(Customer, attribute), value))
    via_contact = select(Contact.customer_id).where(
        await matches(session, getattr(Contact, attribute), value)
    )
    if exclude is not None:
        own = own.where(Customer.id != exclude)
        via_contact = via_contact.where(Contact.customer_id != exclude)
    found = await session.scalar(own.limit(1))
    return found if found is not None else await session.scalar(via_contact.limit(1))


async def ensure_no_duplicate(
    session: AsyncSession,
    *,
    phones: Iterable[tuple[str, str]] = (),
    emails: Iterable[tuple[str, str]] = (),
    company_name: str | None = None,
    exclude: uuid.UUID | None = None,
) -> None:
    """Raise ``409 duplicate_customer`` with ``existing_id`` when another customer (not
    ``exclude``) already has one of ``phones``/``emails`` (``(field, value)`` pairs) or, for a
    company, its name. The check spans the whole account, whatever the caller's scope: the
    id lets a rep ask the owner; reading that customer still needs scope."""
    checks: list[tuple[str, str, str]] = [("phone", f, v) for f, v in phones]
    checks += [("email", f, v) for f, v in emails]
    for attribute, field, value in checks:
        existing = await _by(session, attribute, value, exclude)
        if existing is not None:
            _refuse(field, f"A customer with this {attribute} already exists.", existing)
    if company_name is not None:
        stmt = select(Customer.id).where(
            Customer.kind == CustomerKind.COMPANY, func.lower(Customer.name) == company_name.lower()
        )
        if exclude is not None:
            stmt = stmt.where(Customer.id != exclude)
        existing = await session.scalar(stmt.limit(1))
        if existing is not None:
            _refuse("name", "A company with this name already exists.", existing)


def _refuse(field: str, message: str, existing: uuid.UUID) -> None:
    raise Conflict(
        f"{message} Merge them, or repeat with ?allow_duplicate=true to keep both.",
        code="duplicate_customer",
        field=field,
        extensions={"existing_id": str(existing)},
    )
