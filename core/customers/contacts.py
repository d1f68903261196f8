"""Contact use cases. A contact is read and changed through its customer: the customer's
scope decides (``customers.read`` to see, ``customers.update`` to change)."""

from __future__ import annotations

import uuid

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.customers.access import check_email, customer_in_scope, normalized_phone
from core.customers.duplicates import ensure_no_duplicate
from core.customers.events import ContactCreated, ContactUpdated
from core.customers.models import Contact, Customer
from core.customers.permissions import READ, UPDATE
from core.customers.schemas import ContactCreate, ContactUpdate, ContactView
from core.customers.views import contact_view
from core.customfields.schemas import FieldView
from core.customfields.service import definitions_for
from core.customfields.validation import merged, validate
from core.events.service import record_event
from core.kernel.concurrency import ensure_version
from core.kernel.errors import Invalid, NotFound
from core.security.principal import Principal

#: The custom-field entity of contacts (core/customfields).
ENTITY = "contact"

__all__ = [
    "add",
    "build",
    "checked",
    "create_contact",
    "delete_contact",
    "ensure_contacts_unique",
    "get_contact",
    "list_contacts",
    "move_all",
    "update_contact",
]


def checked(session: AsyncSession, data: ContactCreate, prefix: str = "") -> ContactCreate:
    """``data`` with its name trimmed, phone in E.164 and email checked (fields named with
    ``prefix``, such as ``contacts[0].phone``)."""
    at = f"{prefix}." if prefix else ""
    name = data.name.strip()
    if not name:
        raise Invalid("A name is required.", field=f"{at}name", code="required")
    return msgspec.structs.replace(
        data,
        name=name,
        phone=normalized_phone(session, data.phone, f"{at}phone"),
        email=check_email(data.email, f"{at}email"),
    )


async def ensure_contacts_unique(
    session: AsyncSession,
    contacts: list[ContactCreate],
    *,
    exclude: uuid.UUID | None,
    prefix: str = "contacts",
) -> None:
    for i, c in enumerate(contacts):
        at = f"{prefix}[{i}]." if prefix else ""
        await ensure_no_duplicate(
            session,
            phones=[(f"{at}phone", c.phone)] if c.phone else [],
            emails=[(f"{at}email", c.email)] if c.email else [],
            exclude=exclude,
        )


async def _clear_other_primaries(
    session: AsyncSession, customer_id: uuid.UUID, keep: uuid.UUID | None
) -> None:
    stmt = select(Contact).where(Contact.customer_id == customer_id, Contact.is_primary.is_(True))
    for other in (await session.scalars(stmt)).all():
        if other.id != keep:
            other.is_primary = False


def build(customer_id: uuid.UUID, data: ContactCreate, definitions: list[FieldView]) -> Contact:
    """The contact of an already :func:`checked` ``data`` (custom fields validated), not yet
    added and not primary."""
    return Contact(
        customer_id=customer_id,
        name=data.name,
        title=data.title,
        phone=data.phone,
        email=data.email,
        is_primary=False,
        custom_fields=validate(definitions, data.custom_fields, partial=False),
    )


async def add(session: AsyncSession, customer: Customer, data: ContactCreate) -> Contact:
    """Insert an already :func:`checked` contact for ``customer`` and record the event."""
    contact = build(customer.id, data, await definitions_for(session, ENTITY))
    session.add(contact)
    await session.flush()
    if data.is_primary:
        await _clear_other_primaries(session, customer.id, contact.id)
        contact.is_primary = True
        await session.flush()
    await record_event(session, ContactCreated(contact_id=contact.id, customer_id=customer.id))
    return contact


async def move_all(
    session: AsyncSession, from_customer: uuid.UUID, to_customer: uuid.UUID
) -> list[uuid.UUID]:
    """Move every contact of ``from_customer`` to ``to_customer`` (a merge). The survivor keeps
    its primary contact if it has one."""
    has_primary = await session.scalar(
        select(Contact.id).where(Contact.customer_id == to_customer, Contact.is_primary.is_(True)).limit(1)
    )
    moved = list((await session.scalars(select(Contact).where(Contact.customer_id == from_customer))).all())
    for contact in moved:
        contact.customer_id = to_customer
        if has_primary is not None:
            contact.is_primary = False
    return sorted(c.id for c in moved)


async def list_contacts(
    session: AsyncSession, principal: Principal, customer_id: uuid.UUID
) -> list[ContactView]:
    """The contacts of a customer in scope, primary first, then oldest first."""
    customer = await customer_in_scope(session, principal, customer_id, READ)
    rows = await session.scalars(
        select(Contact)
        .where(Contact.customer_id == customer.id)
        .order_by(Contact.is_primary.desc(), Contact.id)
    )
    return [contact_view(c, principal) for c in rows.all()]


async def _contact(
    session: AsyncSession, customer_id: uuid.UUID, contact_id: uuid.UUID, *, lock: bool = False
) -> Contact:
    stmt = select(Contact).where(Contact.id == contact_id, Contact.customer_id == customer_id)
    if lock:
        stmt = stmt.with_for_update()
    contact = await session.scalar(stmt)
    if contact is None:
        raise NotFound()
    return contact


async def get_contact(
    session: AsyncSession, principal: Principal, customer_id: uuid.UUID, contact_id: uuid.UUID
) -> ContactView:
    customer = await customer_in_scope(session, principal, customer_id, READ)
    return contact_view(await _contact(session, customer.id, contact_id), principal)


async def create_contact(
    session: AsyncSession,
    principal: Principal,
    customer_id: uuid.UUID,
    data: ContactCreate,
    *,
    allow_duplicate: bool = False,
) -> ContactView:
    customer = await customer_in_scope(session, principal, customer_id, UPDATE, lock=True)
    data = checked(session, data)
    if not allow_duplicate:
        await ensure_contacts_unique(session, [data], exclude=customer.id, prefix="")
    return contact_view(await add(session, customer, data), principal)


async def update_contact(
    session: AsyncSession,
    principal: Principal,
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    change: ContactUpdate,
    *,
    expected_version: int | None = None,
    allow_duplicate: bool = False,
) -> ContactView:
    customer = await customer_in_scope(session, principal, customer_id, UPDATE)
    contact = await _contact(session, customer.id, contact_id, lock=True)
    ensure_version(contact, expected_version)
    values = {k: v for k, v in msgspec.structs.asdict(change).items() if v is not msgspec.UNSET}
    if "name" in values:
        values["name"] = values["name"].strip()
        if not values["name"]:
            raise Invalid("A name is required.", field="name", code="required")
    if "custom_fields" in values:
        changes = validate(await definitions_for(session, ENTITY), values["custom_fields"], partial=True)
        values["custom_fields"] = merged(contact.custom_fields, changes)
    if "phone" in values:
        values["phone"] = normalized_phone(session, values["phone"], "phone")
    if "email" in values:
        values["email"] = check_email(values["email"], "email")
    changed = {k: v for k, v in values.items() if getattr(contact, k) != v}
    if not allow_duplicate and (changed.get("phone") or changed.get("email")):
        await ensure_no_duplicate(
            session,
            phones=[("phone", changed["phone"])] if changed.get("phone") else [],
            emails=[("email", changed["email"])] if changed.get("email") else [],
            exclude=customer.id,
        )
    if changed.get("is_primary"):
        await _clear_other_primaries(session, customer.id, contact.id)
    for key, value in changed.items():
        setattr(contact, key, value)
    if changed:
        await session.flush()
        await record_event(
            session, ContactUpdated(contact_id=contact.id, customer_id=customer.id, fields=sorted(changed))
        )
    return contact_view(contact, principal)


async def delete_contact(
    session: AsyncSession,
    principal: Principal,
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> None:
    customer = await customer_in_scope(session, principal, customer_id, UPDATE)
    contact = await _contact(session, customer.id, contact_id, lock=True)
    ensure_version(contact, expected_version)
    await session.delete(contact)
    await session.flush()
