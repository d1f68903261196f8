"""Importing a batch of contact rows: each names its customer (by name, within what the
importer may change). A duplicate has the phone or email of any customer or contact; with the
update policy, a duplicate contact of the same customer is updated."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.capture import plain
from core.customers import contacts as contact_service
from core.customers.events import ContactCreated, ContactUpdated
from core.customers.models import Contact, Customer
from core.customers.permissions import UPDATE
from core.customers.schemas import ContactCreate
from core.events.service import record_event, record_events
from core.imports.duplicates import by_blind_index, customer_keys_taken
from core.imports.files import Row
from core.imports.models import Policy
from core.imports.rows import RunState, converted, custom_values
from core.kernel.errors import Invalid
from core.kernel.ids import new_id
from core.security.scope import owner_filter

__all__ = ["import_contacts"]


async def _customers(session: AsyncSession, state: RunState, names: set[str]) -> dict[str, uuid.UUID]:
    if not names:
        return {}
    scope = await owner_filter(session, state.principal, UPDATE, Customer.owner_id)
    rows = await session.execute(
        select(Customer.id, func.lower(Customer.name))
        .where(func.lower(Customer.name).in_(names), scope)
        .order_by(Customer.id.desc())
    )
    return {name: customer_id for customer_id, name in rows}


async def import_contacts(session: AsyncSession, state: RunState, rows: list[tuple[int, Row]]) -> None:
    """Validate ``rows`` and, unless it is a dry run, write them, in ``session``."""
    parsed: list[tuple[int, dict[str, str], ContactCreate]] = []
    for number, row in rows:
        cells = state.cells(row)
        if not cells:
            continue
        try:
            if not cells.get("customer"):
                raise Invalid("Name the contact's customer.", field="customer", code="required")
            values: dict[str, Any] = {k: cells[k] for k in ("name", "title", "phone", "email") if k in cells}
            values.setdefault("name", "")
            values["custom_fields"] = custom_values(cells, state.definitions)
            contact = contact_service.checked(session, converted(values, ContactCreate))
        except Invalid as exc:
            state.fail(number, exc)
            continue
        parsed.append((number, cells, contact))
    owners = await _customers(session, state, {c["customer"].strip().lower() for _, c, _ in parsed})
    phones = {c.phone for _, _, c in parsed if c.phone}
    emails = {c.email for _, _, c in parsed if c.email}
    taken = await customer_keys_taken(session, phones, emails, set())
    own_contacts = {
        **{
            f"phone:{k}": v
            for k, v in (await by_blind_index(session, Contact.phone, phones, Contact.id)).items()
        },
        **{
            f"email:{k.lower()}": v
            for k, v in (await by_blind_index(session, Contact.email, emails, Contact.id)).items()
        },
    }
    in_batch: set[str] = set()
    new: list[tuple[int, uuid.UUID, ContactCreate]] = []
    updates: list[tuple[int, uuid.UUID, ContactCreate]] = []
    for number, cells, data in parsed:
        customer_id = owners.get(cells["customer"].strip().lower())
        if customer_id is None:
            state.fail(
                number,
                Invalid(
                    "There is no such customer that you may change.",
                    field="customer",
                    code="unknown_customer",
                ),
            )
            continue
        keys = [f"phone:{data.phone}"] if data.phone else []
        keys += [f"email:{data.email.lower()}"] if data.email else []
        fresh = state.first_time(keys) if state.dry_run else True
        duplicate = any(k in taken for k in keys) or bool(in_batch & set(keys)) or not fresh
        in_batch.update(keys)
        contact_id = next((own_contacts[k] for k in keys if k in own_contacts), None)
        if not duplicate or state.policy == Policy.CREATE:
            new.append((number, customer_id, data))
        elif state.policy == Policy.UPDATE and contact_id is not None:
            updates.append((number, contact_id, data))
        else:
            state.tally.skipped += 1
            state.note(
                number, None, "duplicate", "A customer or contact with the same phone or email exists."
            )
    await _update(session, state, updates)
    state.tally.created += len(new)
    if not state.dry_run:
        await _insert(session, state, new)


async def _update(
    session: AsyncSession, state: RunState, updates: list[tuple[int, uuid.UUID, ContactCreate]]
) -> None:
    if not updates:
        return
    scope = await owner_filter(session, state.principal, UPDATE, Customer.owner_id)
    in_scope = select(Customer.id).where(scope)
    stmt = select(Contact).where(Contact.id.in_([u[1] for u in updates]), Contact.customer_id.in_(in_scope))
    found = {c.id: c for c in await session.scalars(stmt if state.dry_run else stmt.with_for_update())}
    touched: list[tuple[int, Contact, dict[str, Any]]] = []
    for number, contact_id, data in updates:
        contact = found.get(contact_id)
        if contact is None:
            state.fail(
                number,
                Invalid("The duplicate contact is not yours to change.", code="duplicate_out_of_scope"),
            )
            continue
        state.tally.updated += 1
        changed = {k: getattr(data, k) for k in ("name", "title", "phone", "email") if getattr(data, k)}
        changed = {k: v for k, v in changed.items() if getattr(contact, k) != v}
        if state.dry_run or not changed:
            continue
        before = {k: plain(getattr(contact, k)) for k in changed}
        for key, value in changed.items():
            setattr(contact, key, value)
        touched.append((number, contact, before))
    if not touched:
        return
    await session.flush()
    for number, contact, before in touched:
        await record_event(
            session,
            ContactUpdated(contact_id=contact.id, customer_id=contact.customer_id, fields=sorted(before)),
        )
        session.add(state.updated(number, "contacts", contact.id, contact.version, before))


async def _insert(
    session: AsyncSession, state: RunState, new: list[tuple[int, uuid.UUID, ContactCreate]]
) -> None:
    if not new:
        return
    contacts = []
    for number, customer_id, data in new:
        contact = contact_service.build(customer_id, data, state.definitions)
        contact.id = new_id()
        contacts.append((number, contact))
    session.add_all([c for _, c in contacts])
    await session.flush()
    for number, contact in contacts:
        state.record(number, "contacts", contact.id, contact.version)
    await record_events(
        session, [ContactCreated(contact_id=c.id, customer_id=c.customer_id) for _, c in contacts]
    )
