"""Importing a batch of lead rows. A duplicate lead has the same phone or email as another
lead; rows without an owner go through the assignment rules (as every lead without an owner
does), and to the uploader when no rule matches."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.capture import plain
from core.customers.access import check_email, normalized_phone
from core.events.schemas import DomainEvent
from core.events.service import record_events
from core.imports.duplicates import by_blind_index
from core.imports.files import Row
from core.imports.models import Policy
from core.imports.rows import RunState, converted, custom_values
from core.kernel.errors import Invalid
from core.kernel.ids import new_id
from core.leads.assignment import choose_owner
from core.leads.events import LeadAssigned, LeadCreated
from core.leads.models import Lead, LeadStatus
from core.leads.permissions import CREATE, UPDATE
from core.leads.schemas import LeadCreate, LeadUpdate
from core.leads.service import prepare_lead, prepare_lead_update, scope_clause
from core.security.scope import visible_owner_ids

__all__ = ["import_leads"]

_TEXT = ("name", "company", "title", "phone", "email", "message", "source", "region")


def _keys(session: AsyncSession, cells: dict[str, str]) -> list[str]:
    keys = []
    phone = normalized_phone(session, cells.get("phone"), "phone")
    email = check_email(cells.get("email"), "email")
    if phone:
        keys.append(f"phone:{phone}")
    if email:
        keys.append(f"email:{email.lower()}")
    return keys


async def import_leads(session: AsyncSession, state: RunState, rows: list[tuple[int, Row]]) -> None:
    """Validate ``rows`` and, unless it is a dry run, write them, in ``session``."""
    visible = await visible_owner_ids(session, state.principal, CREATE)
    plans: list[tuple[int, dict[str, str], Lead, list[str]]] = []
    for number, row in rows:
        cells = state.cells(row)
        if not cells:
            continue
        try:
            data: dict[str, Any] = {k: cells[k] for k in _TEXT if k in cells}
            data.setdefault("name", "")
            data["custom_fields"] = custom_values(cells, state.definitions)
            lead = prepare_lead(session, converted(data, LeadCreate), state.definitions)
            owner = state.owner(cells)
            if owner is not None:
                if visible is not None and owner.user_id not in visible:
                    raise Invalid(
                        "You may only give leads to people within your scope.",
                        field="owner",
                        code="owner_out_of_scope",
                    )
                lead.owner_id, lead.team_id = owner.user_id, owner.team_id
            keys = _keys(session, cells)
        except Invalid as exc:
            state.fail(number, exc)
            continue
        lead.id = new_id()
        plans.append((number, cells, lead, keys))
    taken: dict[str, uuid.UUID] = {}
    for kind in ("phone", "email"):
        values = {k.partition(":")[2] for p in plans for k in p[3] if k.startswith(kind)}
        for value, lead_id in (await by_blind_index(session, getattr(Lead, kind), values, Lead.id)).items():
            taken[f"{kind}:{value.lower()}" if kind == "email" else f"{kind}:{value}"] = lead_id
    in_batch: set[str] = set()
    new: list[tuple[int, Lead]] = []
    updates: list[tuple[int, dict[str, str], uuid.UUID]] = []
    for number, cells, lead, keys in plans:
        existing = next((taken[k] for k in keys if k in taken), None)
        fresh = state.first_time(keys) if state.dry_run else True
        duplicate = existing is not None or bool(in_batch & set(keys)) or not fresh
        in_batch.update(keys)
        if not duplicate or state.policy == Policy.CREATE:
            new.append((number, lead))
        elif state.policy == Policy.UPDATE and existing is not None:
            updates.append((number, cells, existing))
        elif state.policy == Policy.UPDATE and state.dry_run:
            state.tally.updated += 1
        else:
            state.tally.skipped += 1
            state.note(number, None, "duplicate", "A lead with the same phone or email exists.")
    await _update(session, state, updates)
    state.tally.created += len(new)
    if not state.dry_run:
        await _insert(session, state, new)


async def _update(
    session: AsyncSession, state: RunState, updates: list[tuple[int, dict[str, str], uuid.UUID]]
) -> None:
    if not updates:
        return
    scope = await scope_clause(session, state.principal, UPDATE)
    stmt = select(Lead).where(Lead.id.in_([u[2] for u in updates]), scope)
    found = {
        lead.id: lead for lead in await session.scalars(stmt if state.dry_run else stmt.with_for_update())
    }
    touched: list[tuple[int, Lead, dict[str, Any]]] = []
    for number, cells, lead_id in updates:
        lead = found.get(lead_id)
        try:
            if lead is None:
                raise Invalid(
                    "A lead with the same phone or email exists and is not yours to change.",
                    code="duplicate_out_of_scope",
                )
            if lead.status == LeadStatus.CONVERTED:
                raise Invalid(
                    "The duplicate lead is converted; change the customer instead.", code="lead_converted"
                )
            data: dict[str, Any] = {k: cells[k] for k in _TEXT if k in cells and k != "name"}
            custom = custom_values(cells, state.definitions)
            if custom:
                data["custom_fields"] = custom
            changed = prepare_lead_update(session, lead, converted(data, LeadUpdate), state.definitions)
        except Invalid as exc:
            state.fail(number, exc)
            continue
        state.tally.updated += 1
        if state.dry_run or not changed:
            continue
        before = {key: plain(getattr(lead, key)) for key in changed}
        for key, value in changed.items():
            setattr(lead, key, value)
        touched.append((number, lead, before))
    if not touched:
        return
    await session.flush()
    for number, lead, before in touched:
        session.add(state.updated(number, "leads", lead.id, lead.version, before))


async def _insert(session: AsyncSession, state: RunState, new: list[tuple[int, Lead]]) -> None:
    if not new:
        return
    assigned: dict[uuid.UUID, uuid.UUID] = {}
    for _, lead in new:
        if lead.owner_id is None:
            assignment = await choose_owner(session, lead.source, lead.region)
            if assignment is not None:
                lead.owner_id, lead.team_id = assignment.user_id, assignment.team_id
                assigned[lead.id] = assignment.rule_id
            else:
                lead.owner_id, lead.team_id = state.principal.user_id, state.principal.team_id
    session.add_all([lead for _, lead in new])
    await session.flush()
    events: list[DomainEvent] = []
    for number, lead in new:
        events.append(LeadCreated(lead_id=lead.id, owner_id=lead.owner_id, channel="import"))
        if lead.id in assigned and lead.owner_id is not None:
            events.append(
                LeadAssigned(
                    lead_id=lead.id, from_owner_id=None, to_owner_id=lead.owner_id, rule_id=assigned[lead.id]
                )
            )
        state.record(number, "leads", lead.id, lead.version)
    await record_events(session, events)
