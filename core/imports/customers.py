"""Importing a batch of customer rows (each maybe with its primary contact).

Every row goes through the customers' own validation (``prepare_customer``/``prepare_update``);
duplicates are looked up once per batch; the new customers and contacts of a batch are
written with one INSERT each, outside the unit of work but encrypted and audited as a flush
would (``core/imports/writes.py``), and their events in one go per batch.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.capture import plain
from core.customers import contacts as contact_service
from core.customers.events import ContactCreated, CustomerCreated, CustomerUpdated
from core.customers.models import Contact, Customer, CustomerKind
from core.customers.permissions import CREATE, UPDATE
from core.customers.schemas import ContactCreate, CustomerCreate, CustomerUpdate
from core.customers.service import prepare_customer, prepare_update
from core.events.schemas import DomainEvent
from core.events.service import record_event, record_events
from core.imports.duplicates import customer_keys_taken
from core.imports.files import Row
from core.imports.models import ImportRecord, Policy
from core.imports.rows import RunState, converted, custom_values, kind_of, split_tags, stage_of
from core.imports.writes import insert_new
from core.kernel.errors import Invalid
from core.kernel.ids import new_id
from core.security.scope import owner_filter, visible_owner_ids

__all__ = ["import_customers"]

#: The service's names for a row's contact fields, and the import's.
CONTACT_FIELDS = {f"contacts[0].{k}": f"contact_{k}" for k in ("name", "title", "phone", "email")}
_UPDATABLE = (
    "kind",
    "level",
    "source",
    "industry",
    "stage",
    "tags",
    "phone",
    "email",
    "address",
    "id_number",
)


@dataclass
class _Plan:
    row: int
    cells: dict[str, str]
    customer: Customer
    contacts: list[ContactCreate]
    keys: list[str]
    owner_id: uuid.UUID
    #: Rows of this batch that updated this (new) customer.
    merged: list[int] = field(default_factory=list)


def _command(state: RunState, cells: dict[str, str]) -> CustomerCreate:
    contact: dict[str, Any] = {
        k: cells[f"contact_{k}"] for k in ("name", "title", "phone", "email") if cells.get(f"contact_{k}")
    }
    data: dict[str, Any] = {
        "kind": kind_of(cells.get("kind"), state.defaults.get("kind", CustomerKind.COMPANY)),
        "name": cells.get("name", ""),
        "tags": split_tags(cells.get("tags")),
        "custom_fields": custom_values(cells, state.definitions),
        **{
            k: cells[k]
            for k in ("level", "source", "industry", "phone", "email", "address", "id_number")
            if k in cells
        },
    }
    if "stage" in cells:
        data["stage"] = stage_of(cells["stage"])
    if contact:
        data["contacts"] = [{"is_primary": True, **contact}]
    command: CustomerCreate = converted(data, CustomerCreate)
    return command


def _keys(customer: Customer, contacts: list[ContactCreate]) -> list[str]:
    keys = [f"phone:{p}" for p in {customer.phone, *(c.phone for c in contacts)} if p]
    keys += [f"email:{e.lower()}" for e in {customer.email, *(c.email for c in contacts)} if e]
    if customer.kind == CustomerKind.COMPANY:
        keys.append(f"name:{customer.name.lower()}")
    return keys


def _update_command(cells: dict[str, str], state: RunState, current: Customer) -> CustomerUpdate:
    data: dict[str, Any] = {k: cells[k] for k in _UPDATABLE if k in cells}
    if "kind" in data:
        data["kind"] = kind_of(data["kind"], current.kind)
    if "stage" in data:
        data["stage"] = stage_of(data["stage"])
    if "tags" in data:
        data["tags"] = list(dict.fromkeys([*(current.tags or []), *split_tags(data["tags"])]))
    custom = custom_values(cells, state.definitions)
    if custom:
        data["custom_fields"] = custom
    command: CustomerUpdate = converted(data, CustomerUpdate)
    return command


async def _plans(session: AsyncSession, state: RunState, rows: list[tuple[int, Row]]) -> list[_Plan]:
    visible = await visible_owner_ids(session, state.principal, CREATE)
    plans = []
    for number, row in rows:
        cells = state.cells(row)
        if not cells:
            continue
        try:
            data = _command(state, cells)
            customer, contacts = prepare_customer(session, data, state.definitions)
            owner = state.owner(cells)
            owner_id = owner.user_id if owner else state.principal.user_id
            if owner_id is None:
                raise Invalid("Name the owner (an email).", field="owner", code="required")
            if visible is not None and owner_id not in visible:
                raise Invalid(
                    "You may only import customers for people within your scope.",
                    field="owner",
                    code="owner_out_of_scope",
                )
            customer.id = new_id()
            customer.owner_id = owner_id
            customer.team_id = owner.team_id if owner else state.principal.team_id
        except Invalid as exc:
            state.fail(number, exc, CONTACT_FIELDS)
            continue
        plans.append(_Plan(number, cells, customer, contacts, _keys(customer, contacts), owner_id))
    return plans


async def import_customers(session: AsyncSession, state: RunState, rows: list[tuple[int, Row]]) -> None:
    """Validate ``rows`` and, unless it is a dry run, write them, in ``session``."""
    plans = await _plans(session, state, rows)
    taken = await customer_keys_taken(
        session,
        {k[6:] for p in plans for k in p.keys if k.startswith("phone:")},
        {k[6:] for p in plans for k in p.keys if k.startswith("email:")},
        {k[5:] for p in plans for k in p.keys if k.startswith("name:")},
    )
    in_batch: dict[str, _Plan] = {}
    new: list[_Plan] = []
    updates: dict[uuid.UUID, list[_Plan]] = {}
    for plan in plans:
        existing = next((taken[k] for k in plan.keys if k in taken), None)
        earlier = next((in_batch[k] for k in plan.keys if k in in_batch), None)
        fresh = state.first_time(plan.keys) if state.dry_run else True
        duplicate = existing is not None or earlier is not None or not fresh
        if not duplicate or state.policy == Policy.CREATE:
            new.append(plan)
            for key in plan.keys:
                in_batch.setdefault(key, plan)
        elif state.policy == Policy.SKIP:
            state.tally.skipped += 1
            state.note(plan.row, None, "duplicate", "A customer with the same phone, email or name exists.")
        elif existing is not None:
            updates.setdefault(existing, []).append(plan)
        elif earlier is not None:
            _merge_into_new(session, state, earlier, plan)
        else:  # a dry run's duplicate of an earlier batch: it would update that customer
            state.tally.updated += 1
    await _update_existing(session, state, updates)
    state.tally.created += len(new)
    if not state.dry_run:
        await _insert(session, state, new)


def _merge_into_new(session: AsyncSession, state: RunState, target: _Plan, plan: _Plan) -> None:
    """Policy update, a duplicate of a row earlier in this batch: the later row's values win."""
    try:
        change = _update_command(plan.cells, state, target.customer)
        for key, value in prepare_update(session, target.customer, change, state.definitions).items():
            setattr(target.customer, key, value)
    except Invalid as exc:
        state.fail(plan.row, exc)
        return
    target.merged.append(plan.row)
    state.tally.updated += 1


async def _update_existing(
    session: AsyncSession, state: RunState, updates: dict[uuid.UUID, list[_Plan]]
) -> None:
    if not updates:
        return
    scope = await owner_filter(session, state.principal, UPDATE, Customer.owner_id)
    stmt = select(Customer).where(Customer.id.in_(list(updates)), scope).order_by(Customer.id)
    found = {c.id: c for c in await session.scalars(stmt if state.dry_run else stmt.with_for_update())}
    touched: dict[uuid.UUID, tuple[int, dict[str, Any]]] = {}
    for customer_id, plans in updates.items():
        customer = found.get(customer_id)
        for plan in plans:
            if customer is None:
                state.fail(
                    plan.row,
                    Invalid(
                        "A customer with the same phone, email or name exists and is not yours to change.",
                        code="duplicate_out_of_scope",
                    ),
                )
                continue
            try:
                changed = prepare_update(
                    session, customer, _update_command(plan.cells, state, customer), state.definitions
                )
            except Invalid as exc:
                state.fail(plan.row, exc)
                continue
            state.tally.updated += 1
            if state.dry_run or not changed:
                continue
            row, before = touched.get(customer.id, (plan.row, {}))
            for key in changed:
                before.setdefault(key, plain(getattr(customer, key)))
                setattr(customer, key, changed[key])
            touched[customer.id] = (row, before)
    if touched:
        await session.flush()
        await _record_updates(session, state, {found[i]: t for i, t in touched.items()})


async def _record_updates(
    session: AsyncSession, state: RunState, touched: dict[Customer, tuple[int, dict[str, Any]]]
) -> None:
    created_here = {
        r.entity_id: r
        for r in await session.scalars(
            select(ImportRecord).where(
                ImportRecord.import_id == state.batch_id,
                ImportRecord.action == "created",
                ImportRecord.entity_id.in_([c.id for c in touched]),
            )
        )
    }
    for customer, (row, before) in touched.items():
        await record_event(session, CustomerUpdated(customer_id=customer.id, fields=sorted(before)))
        earlier = created_here.get(customer.id)
        if earlier is not None:  # created by this very import: undo deletes it anyway
            earlier.version_after = customer.version
            continue
        session.add(state.updated(row, "customers", customer.id, customer.version, before))


async def _insert(session: AsyncSession, state: RunState, plans: list[_Plan]) -> None:
    if not plans:
        return
    await insert_new(session, [p.customer for p in plans])
    contacts: list[tuple[_Plan, Contact]] = []
    for plan in plans:
        for data in plan.contacts:
            contact = contact_service.build(plan.customer.id, data, state.contact_definitions)
            contact.is_primary = data.is_primary
            contacts.append((plan, contact))
    await insert_new(session, [c for _, c in contacts])
    events: list[DomainEvent] = []
    for plan in plans:
        customer = plan.customer
        events.append(CustomerCreated(customer_id=customer.id, owner_id=plan.owner_id))
        state.record(plan.row, "customers", customer.id, customer.version)
    for plan, contact in contacts:
        events.append(ContactCreated(contact_id=contact.id, customer_id=plan.customer.id))
        state.record(plan.row, "contacts", contact.id, contact.version)
    await record_events(session, events)
