"""Lead use cases; each public function is one transaction's worth of work.

Scope: a lead belongs to its owner, so ``leads.*`` grants of ``own``/``team``/``all`` apply as
they do to customers. A lead nobody owns yet (from a web form no assignment rule matched) is
seen by whoever holds ``leads.assign``, whose job is to give it to someone.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.activities.subjects import SubjectRef
from core.crypto.fields import matches
from core.customers import contacts as customer_contacts
from core.customers import service as customers
from core.customers.access import check_email, normalized_phone
from core.customers.schemas import ContactCreate, CustomerCreate
from core.customfields.query import filter_clauses
from core.customfields.schemas import FieldView
from core.customfields.service import custom_sort_keys, definitions_for
from core.customfields.validation import merged, validate
from core.events.service import record_event
from core.kernel.clock import utcnow
from core.kernel.concurrency import ensure_version
from core.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from core.kernel.pagination import Page, PageRequest, paginate
from core.kernel.search import contains
from core.leads.assignment import choose_owner
from core.leads.events import LeadAssigned, LeadConverted, LeadCreated, LeadStatusChanged
from core.leads.models import Lead, LeadStatus
from core.leads.permissions import ASSIGN, CONVERT, CREATE, DELETE, READ, UPDATE
from core.leads.schemas import (
    AssignRequest,
    ConvertRequest,
    ConvertResult,
    LeadCreate,
    LeadFilter,
    LeadUpdate,
    LeadView,
    StatusChange,
)
from core.leads.views import lead_view
from core.sales import opportunities
from core.sales.schemas import OpportunityCreate
from core.security.models import Membership
from core.security.principal import Principal
from core.security.scope import owner_filter, visible_owner_ids

__all__ = [
    "add_lead",
    "assign_lead",
    "change_status",
    "convert_lead",
    "create_lead",
    "delete_lead",
    "get_lead",
    "lead_in_scope",
    "lead_subject",
    "leads_query",
    "list_leads",
    "prepare_lead",
    "prepare_lead_update",
    "scope_clause",
    "update_lead",
]

#: The custom-field entity of leads (core/customfields).
ENTITY = "lead"
SORTABLE = {"name": Lead.name, "created_at": Lead.created_at, "updated_at": Lead.updated_at}


async def scope_clause(session: AsyncSession, principal: Principal, permission: str) -> ColumnElement[bool]:
    clause = await owner_filter(session, principal, permission, Lead.owner_id)
    if principal.can(ASSIGN):
        return or_(clause, Lead.owner_id.is_(None))
    return clause


async def lead_in_scope(
    session: AsyncSession,
    principal: Principal,
    lead_id: uuid.UUID,
    permission: str,
    *,
    lock: bool = False,
    field: str | None = None,
) -> Lead:
    """The lead, if within the caller's scope of ``permission``; otherwise not found."""
    stmt = select(Lead).where(Lead.id == lead_id, await scope_clause(session, principal, permission))
    lead = await session.scalar(stmt.with_for_update() if lock else stmt)
    if lead is None:
        raise NotFound("The lead does not exist.", field=field) if field else NotFound()
    return lead


async def lead_subject(
    session: AsyncSession, principal: Principal, subject_id: uuid.UUID, permission: str
) -> SubjectRef:
    """Activities about a lead (calls, visits, follow-up tasks): the caller must see the lead;
    once converted, its activities also show on the customer's timeline."""
    lead = await lead_in_scope(session, principal, subject_id, READ, field="subject_id")
    return SubjectRef(customer_id=lead.converted_customer_id, owner_id=lead.owner_id)


async def _assignable(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, permission: str, field: str
) -> Membership:
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
            "You may only give leads to people within your scope.", field=field, code="owner_out_of_scope"
        )
    return membership


def _contact_details(session: AsyncSession, values: dict[str, Any]) -> None:
    if "phone" in values:
        values["phone"] = normalized_phone(session, values["phone"], "phone")
    if "email" in values:
        values["email"] = check_email(values["email"], "email")
    for key in ("name", "company", "title", "source", "region", "message"):
        if isinstance(values.get(key), str):
            values[key] = values[key].strip() or None
    if "name" in values and values["name"] is None:
        raise Invalid("A name is required.", field="name", code="required")


def prepare_lead(session: AsyncSession, data: LeadCreate, definitions: list[FieldView]) -> Lead:
    """The checked, normalized lead of ``data`` (not yet added, nobody's yet): the validation
    every create shares (the API, web forms, imports).

    Raises:
        Invalid: one field at fault.
    """
    values = msgspec.structs.asdict(data)
    _contact_details(session, values)
    return Lead(
        name=values["name"],
        company=values["company"],
        title=values["title"],
        phone=values["phone"],
        email=values["email"],
        message=values["message"],
        source=values["source"],
        region=values["region"],
        status=LeadStatus.NEW,
        custom_fields=validate(definitions, data.custom_fields, partial=False),
    )


def prepare_lead_update(
    session: AsyncSession, lead: Lead, change: LeadUpdate, definitions: list[FieldView]
) -> dict[str, Any]:
    """The checked values of ``change`` that differ from ``lead`` (nothing set yet)."""
    values = {k: v for k, v in msgspec.structs.asdict(change).items() if v is not msgspec.UNSET}
    _contact_details(session, values)
    if "custom_fields" in values:
        changes = validate(definitions, values["custom_fields"], partial=True)
        values["custom_fields"] = merged(lead.custom_fields, changes)
    return {k: v for k, v in values.items() if getattr(lead, k) != v}


async def add_lead(
    session: AsyncSession,
    data: LeadCreate,
    *,
    channel: str,
    owner: Membership | None = None,
    fallback_owner: Membership | None = None,
    form_id: uuid.UUID | None = None,
) -> Lead:
    """Insert a lead owned by ``owner``, else by whom the assignment rules choose, else by
    ``fallback_owner`` (None: nobody yet). ``data`` is validated here."""
    lead = prepare_lead(session, data, await definitions_for(session, ENTITY))
    rule_id = None
    if owner is not None:
        owner_id, team_id = owner.user_id, owner.team_id
    else:
        assignment = await choose_owner(session, lead.source, lead.region)
        if assignment is not None:
            owner_id, team_id, rule_id = assignment.user_id, assignment.team_id, assignment.rule_id
        elif fallback_owner is not None:
            owner_id, team_id = fallback_owner.user_id, fallback_owner.team_id
        else:
            owner_id, team_id = None, None
    lead.owner_id, lead.team_id, lead.form_id = owner_id, team_id, form_id
    session.add(lead)
    await session.flush()
    await record_event(
        session, LeadCreated(lead_id=lead.id, owner_id=owner_id, channel=channel, form_id=form_id)
    )
    if rule_id is not None and owner_id is not None:
        await record_event(
            session, LeadAssigned(lead_id=lead.id, from_owner_id=None, to_owner_id=owner_id, rule_id=rule_id)
        )
    return lead


async def create_lead(session: AsyncSession, principal: Principal, data: LeadCreate) -> LeadView:
    """Add a lead: owned by ``owner_id``, else as the assignment rules say, else by the caller."""
    owner = None
    if data.owner_id is not None:
        owner = await _assignable(session, principal, data.owner_id, CREATE, "owner_id")
    caller = None
    if principal.user_id is not None:
        caller = await session.scalar(select(Membership).where(Membership.user_id == principal.user_id))
    lead = await add_lead(session, data, channel="api", owner=owner, fallback_owner=caller)
    return lead_view(lead, principal)


async def _filtered(
    session: AsyncSession, principal: Principal, stmt: Select[Any], f: LeadFilter
) -> Select[Any]:
    if f.q:
        stmt = stmt.where(or_(contains(Lead.name, f.q), contains(Lead.company, f.q)))
    for column, value in ((Lead.status, f.status), (Lead.source, f.source), (Lead.region, f.region)):
        if value:
            stmt = stmt.where(column == value)
    if f.owner_id:
        stmt = stmt.where(Lead.owner_id == f.owner_id)
    if f.unassigned is not None:
        stmt = stmt.where(Lead.owner_id.is_(None) if f.unassigned else Lead.owner_id.is_not(None))
    if f.form_id:
        stmt = stmt.where(Lead.form_id == f.form_id)
    if f.created_from:
        stmt = stmt.where(Lead.created_at >= f.created_from)
    if f.created_to:
        stmt = stmt.where(Lead.created_at < f.created_to)
    if f.phone:
        stmt = stmt.where(await matches(session, Lead.phone, f.phone))
    if f.email:
        stmt = stmt.where(await matches(session, Lead.email, f.email))
    if f.custom:
        definitions = await definitions_for(session, ENTITY)
        stmt = stmt.where(*filter_clauses(definitions, Lead.custom_fields, f.custom))
    return stmt


async def leads_query(session: AsyncSession, principal: Principal, f: LeadFilter) -> Select[Any]:
    """The leads within the caller's ``leads.read`` scope that match ``f`` (list and export)."""
    if f.status and f.status not in LeadStatus.ALL:
        raise Invalid(f"Choose one of: {', '.join(LeadStatus.ALL)}.", field="status", code="invalid_choice")
    return (await _filtered(session, principal, select(Lead), f)).where(
        await scope_clause(session, principal, READ)
    )


async def list_leads(
    session: AsyncSession, principal: Principal, page: PageRequest, f: LeadFilter
) -> Page[LeadView]:
    """Leads within the caller's scope, filtered, sorted and paged."""
    stmt = await leads_query(session, principal, f)
    return await paginate(
        session,
        stmt,
        Lead.id,
        page,
        lambda lead: lead_view(lead, principal),
        sortable=SORTABLE,
        sort_keys=await custom_sort_keys(session, ENTITY, Lead.custom_fields, page),
    )


async def get_lead(session: AsyncSession, principal: Principal, lead_id: uuid.UUID) -> LeadView:
    return lead_view(await lead_in_scope(session, principal, lead_id, READ), principal)


def _open(lead: Lead) -> None:
    if lead.status == LeadStatus.CONVERTED:
        raise Conflict("The lead is converted; change the customer instead.", code="lead_converted")


async def update_lead(
    session: AsyncSession,
    principal: Principal,
    lead_id: uuid.UUID,
    change: LeadUpdate,
    *,
    expected_version: int | None = None,
) -> LeadView:
    lead = await lead_in_scope(session, principal, lead_id, UPDATE, lock=True)
    ensure_version(lead, expected_version)
    _open(lead)
    changed = prepare_lead_update(session, lead, change, await definitions_for(session, ENTITY))
    for key, value in changed.items():
        setattr(lead, key, value)
    await session.flush()
    return lead_view(lead, principal)


async def change_status(
    session: AsyncSession,
    principal: Principal,
    lead_id: uuid.UUID,
    change: StatusChange,
    *,
    expected_version: int | None = None,
) -> LeadView:
    """Qualify or disqualify a lead (a reason is required to disqualify one)."""
    if change.status not in LeadStatus.SETTABLE:
        raise Invalid(
            f"Choose one of: {', '.join(LeadStatus.SETTABLE)} (a conversion sets 'converted').",
            field="status",
            code="invalid_choice",
        )
    reason = (change.reason or "").strip() or None
    if change.status == LeadStatus.UNQUALIFIED and reason is None:
        raise Invalid("Say why the lead is unqualified.", field="reason", code="required")
    lead = await lead_in_scope(session, principal, lead_id, UPDATE, lock=True)
    ensure_version(lead, expected_version)
    _open(lead)
    previous = lead.status
    lead.status, lead.status_reason = change.status, reason
    await session.flush()
    if previous != change.status:
        await record_event(
            session, LeadStatusChanged(lead_id=lead.id, from_status=previous, to_status=change.status)
        )
    return lead_view(lead, principal)


async def assign_lead(
    session: AsyncSession,
    principal: Principal,
    lead_id: uuid.UUID,
    request: AssignRequest,
    *,
    expected_version: int | None = None,
) -> LeadView:
    lead = await lead_in_scope(session, principal, lead_id, ASSIGN, lock=True)
    ensure_version(lead, expected_version)
    _open(lead)
    target = await _assignable(session, principal, request.to_owner_id, ASSIGN, "to_owner_id")
    if lead.owner_id != target.user_id:
        previous = lead.owner_id
        lead.owner_id, lead.team_id = target.user_id, target.team_id
        await session.flush()
        await record_event(
            session, LeadAssigned(lead_id=lead.id, from_owner_id=previous, to_owner_id=target.user_id)
        )
    return lead_view(lead, principal)


async def delete_lead(
    session: AsyncSession, principal: Principal, lead_id: uuid.UUID, *, expected_version: int | None = None
) -> None:
    lead = await lead_in_scope(session, principal, lead_id, DELETE, lock=True)
    ensure_version(lead, expected_version)
    await session.delete(lead)
    await session.flush()


async def convert_lead(
    session: AsyncSession,
    principal: Principal,
    lead_id: uuid.UUID,
    request: ConvertRequest,
    *,
    expected_version: int | None = None,
) -> ConvertResult:
    """Turn the lead into a customer (or attach it to ``customer_id``) with the lead's person
    as a contact, and optionally an opportunity, all in this one transaction."""
    lead = await lead_in_scope(session, principal, lead_id, CONVERT, lock=True)
    ensure_version(lead, expected_version)
    if lead.status == LeadStatus.CONVERTED:
        raise Conflict("The lead is already converted.", code="lead_converted")
    if lead.status == LeadStatus.UNQUALIFIED:
        raise Conflict(
            "The lead is unqualified; change its status before converting it.", code="lead_unqualified"
        )
    owner_id = lead.owner_id or principal.user_id
    if owner_id is None:
        raise Invalid("Assign the lead to someone before converting it.", field="owner_id", code="required")
    person = ContactCreate(
        name=lead.name, title=lead.title, phone=lead.phone, email=lead.email, is_primary=True
    )
    if request.customer_id is not None:
        contact = await customer_contacts.create_contact(
            session, principal, request.customer_id, person, allow_duplicate=True
        )
        customer_id, contact_id = request.customer_id, contact.id
    else:
        company = lead.company is not None
        customer = await customers.create_customer(
            session,
            principal,
            CustomerCreate(
                kind="company" if company else "individual",
                name=lead.company or lead.name,
                source=lead.source,
                stage="prospect",
                owner_id=owner_id,
                phone=None if company else lead.phone,
                email=None if company else lead.email,
                contacts=[person],
            ),
            allow_duplicate=request.allow_duplicate,
        )
        created = customer.contacts if isinstance(customer.contacts, list) else []
        customer_id, contact_id = customer.id, created[0].id
    opportunity_id = None
    if request.opportunity is not None:
        draft = request.opportunity
        opportunity = await opportunities.create_opportunity(
            session,
            principal,
            OpportunityCreate(
                name=draft.name or lead.company or lead.name,
                customer_id=customer_id,
                contact_id=contact_id,
                pipeline_id=draft.pipeline_id,
                stage_id=draft.stage_id,
                amount=draft.amount if draft.amount is not None else Decimal(0),
                currency=draft.currency,
                expected_close_date=draft.expected_close_date,
                owner_id=owner_id,
                source=lead.source,
            ),
        )
        opportunity_id = opportunity.id
    lead.status = LeadStatus.CONVERTED
    lead.converted_at = utcnow()
    lead.converted_customer_id = customer_id
    lead.converted_contact_id = contact_id
    lead.converted_opportunity_id = opportunity_id
    await session.flush()
    await record_event(
        session,
        LeadConverted(
            lead_id=lead.id,
            customer_id=customer_id,
            contact_id=contact_id,
            opportunity_id=opportunity_id,
            owner_id=owner_id,
        ),
    )
    return ConvertResult(
        lead=lead_view(lead, principal),
        customer_id=customer_id,
        contact_id=contact_id,
        opportunity_id=opportunity_id,
    )
