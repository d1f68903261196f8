"""Customer use cases; each public function is one transaction's worth of work."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import Select, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto.fields import matches
from core.customers import contacts as contact_service
from core.customers.access import (
    active_membership,
    check_email,
    customer_in_scope,
    has_tag,
    normalized_phone,
)
from core.customers.duplicates import ensure_no_duplicate
from core.customers.events import (
    CustomerCreated,
    CustomerDeleted,
    CustomerMerged,
    CustomerTransferred,
    CustomerUpdated,
)
from core.customers.links import CustomerLink, OwnerChange
from core.customers.models import Contact, Customer, CustomerKind, LifecycleStage
from core.customers.ownership import assign
from core.customers.permissions import CREATE, DELETE, MERGE, READ, TRANSFER, UPDATE
from core.customers.schemas import (
    ContactCreate,
    CustomerCreate,
    CustomerFilter,
    CustomerUpdate,
    CustomerView,
    MergeRequest,
    TransferRequest,
    TransferResult,
)
from core.customers.views import contact_view, customer_view
from core.customfields.query import filter_clauses
from core.customfields.schemas import FieldView
from core.customfields.service import custom_sort_keys, definitions_for
from core.customfields.validation import merged, validate
from core.events.service import record_event
from core.kernel.checks import check
from core.kernel.clock import utcnow
from core.kernel.concurrency import ensure_version
from core.kernel.errors import Invalid, NotFound, one_of
from core.kernel.pagination import Page, PageRequest, paginate
from core.kernel.search import contains, starts_with
from core.security.principal import Principal
from core.security.scope import owner_filter
from core.security.teams import ensure_team_exists

#: The custom-field entity of customers (core/customfields).
ENTITY = "customer"

__all__ = [
    "create_customer",
    "customers_query",
    "delete_customer",
    "get_customer",
    "list_customers",
    "merge_customers",
    "prepare_customer",
    "prepare_update",
    "searched",
    "transfer_customers",
    "update_customer",
]

#: Fields a merge copies from the merged customer where the survivor has none.
FILLABLE = ("level", "source", "industry", "phone", "email", "address", "id_number", "team_id")
SORTABLE = {"name": Customer.name, "created_at": Customer.created_at, "updated_at": Customer.updated_at}


def _name(value: str) -> str:
    value = value.strip()
    if not value:
        raise Invalid("A name is required.", field="name", code="required")
    return value


def _tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in tags if t.strip()))


def _check_id_number(kind: str, id_number: str | None) -> None:
    if id_number and kind != CustomerKind.INDIVIDUAL:
        raise Invalid("Only individuals have an ID number.", field="id_number", code="not_for_companies")


def prepare_customer(
    session: AsyncSession, data: CustomerCreate, definitions: list[FieldView]
) -> tuple[Customer, list[ContactCreate]]:
    """The checked, normalized customer of ``data`` (not yet added, without owner and team)
    and its checked contacts: the validation every create shares (the API and imports).

    Raises:
        Invalid: one field at fault (kind, stage, name, ID number, phone, email, custom fields).
    """
    kind = one_of(data.kind, CustomerKind.ALL, "kind")
    stage = one_of(data.stage, LifecycleStage.ALL, "stage")
    name = _name(data.name)
    _check_id_number(kind, data.id_number)
    phone = normalized_phone(session, data.phone, "phone")
    email = check_email(data.email, "email")
    contacts = [contact_service.checked(session, c, f"contacts[{i}]") for i, c in enumerate(data.contacts)]
    customer = Customer(
        kind=kind,
        name=name,
        level=data.level,
        source=data.source,
        industry=data.industry,
        stage=stage,
        tags=_tags(data.tags),
        phone=phone,
        email=email,
        address=data.address,
        id_number=data.id_number,
        custom_fields=validate(definitions, data.custom_fields, partial=False),
        last_contacted_at=data.last_contacted_at,
        assigned_at=utcnow(),
    )
    return customer, contacts


async def create_customer(
    session: AsyncSession, principal: Principal, data: CustomerCreate, *, allow_duplicate: bool = False
) -> CustomerView:
    """Add a customer (and its first contacts), owned by ``owner_id`` or the caller."""
    customer, contacts = prepare_customer(session, data, await definitions_for(session, ENTITY))
    owner_id = data.owner_id or principal.user_id
    if owner_id is None:
        raise Invalid("Name the owner (a user id).", field="owner_id", code="required")
    membership = await active_membership(session, principal, owner_id, CREATE, "owner_id")
    team_id = data.team_id if data.team_id is not None else membership.team_id
    await ensure_team_exists(session, team_id)
    customer.owner_id, customer.team_id = owner_id, team_id
    if not allow_duplicate:
        await ensure_no_duplicate(
            session,
            phones=[("phone", customer.phone)] if customer.phone else [],
            emails=[("email", customer.email)] if customer.email else [],
            company_name=customer.name if customer.kind == CustomerKind.COMPANY else None,
        )
        await contact_service.ensure_contacts_unique(session, contacts, exclude=None)
    session.add(customer)
    await session.flush()
    await record_event(session, CustomerCreated(customer_id=customer.id, owner_id=owner_id))
    created = [await contact_service.add(session, customer, c) for c in contacts]
    view = customer_view(customer, principal)
    view.contacts = [contact_view(c, principal) for c in created]
    await check(session, "before_customer_create", customer=view)
    return view


def _filtered(session: AsyncSession, stmt: Select[Any], f: CustomerFilter) -> Select[Any]:
    if f.q:
        stmt = stmt.where(contains(Customer.name, f.q))
    if f.name_prefix:
        stmt = stmt.where(starts_with(Customer.name, f.name_prefix))
    if f.tag:
        stmt = stmt.where(has_tag(session, f.tag))
    if f.owner_id:
        stmt = stmt.where(Customer.owner_id == f.owner_id)
    if f.level:
        stmt = stmt.where(Customer.level == f.level)
    if f.stage:
        stmt = stmt.where(Customer.stage == f.stage)
    if f.kind:
        stmt = stmt.where(Customer.kind == f.kind)
    if f.last_contacted_from:
        stmt = stmt.where(Customer.last_contacted_at >= f.last_contacted_from)
    if f.last_contacted_to:
        stmt = stmt.where(Customer.last_contacted_at < f.last_contacted_to)
    return stmt


async def customers_query(session: AsyncSession, principal: Principal, f: CustomerFilter) -> Select[Any]:
    """The customers within the caller's ``customers.read`` scope that match ``f``: what the
    list pages through and an export streams."""
    return (await searched(session, f)).where(await owner_filter(session, principal, READ, Customer.owner_id))


async def list_customers(
    session: AsyncSession, principal: Principal, page: PageRequest, f: CustomerFilter
) -> Page[CustomerView]:
    """Customers within the caller's scope, filtered, sorted and paged."""
    stmt = await customers_query(session, principal, f)
    return await paginate(
        session,
        stmt,
        Customer.id,
        page,
        lambda c: customer_view(c, principal),
        sortable=SORTABLE,
        sort_keys=await custom_sort_keys(session, ENTITY, Customer.custom_fields, page),
    )


async def searched(session: AsyncSession, f: CustomerFilter) -> Select[Any]:
    """Every customer of the business matching ``f`` (the caller applies scope)."""
    stmt = _filtered(session, select(Customer), f)
    if f.custom:
        definitions = await definitions_for(session, ENTITY)
        stmt = stmt.where(*filter_clauses(definitions, Customer.custom_fields, f.custom))
    for attribute, value in (("phone", f.phone), ("email", f.email)):
        if value:
            # One id set from two index lookups: an OR across the two tables would make
            # PostgreSQL scan every customer of the tenant.
            found = union(
                select(Customer.id).where(await matches(session, getattr(Customer, attribute), value)),
                select(Contact.customer_id).where(await matches(session, getattr(Contact, attribute), value)),
            )
            stmt = stmt.where(Customer.id.in_(found))
    return stmt


async def get_customer(session: AsyncSession, principal: Principal, customer_id: uuid.UUID) -> CustomerView:
    return customer_view(await customer_in_scope(session, principal, customer_id, READ), principal)


def prepare_update(
    session: AsyncSession, customer: Customer, change: CustomerUpdate, definitions: list[FieldView]
) -> dict[str, Any]:
    """The checked, normalized values of ``change`` that differ from ``customer`` (nothing
    set yet): the validation every update shares (the API and imports).

    Raises:
        Invalid: one field at fault.
    """
    values = {k: v for k, v in msgspec.structs.asdict(change).items() if v is not msgspec.UNSET}
    if "kind" in values:
        one_of(values["kind"], CustomerKind.ALL, "kind")
    if "stage" in values:
        one_of(values["stage"], LifecycleStage.ALL, "stage")
    if "name" in values:
        values["name"] = _name(values["name"])
    if "tags" in values:
        values["tags"] = _tags(values["tags"])
    if "phone" in values:
        values["phone"] = normalized_phone(session, values["phone"], "phone")
    if "email" in values:
        values["email"] = check_email(values["email"], "email")
    if "custom_fields" in values:
        changes = validate(definitions, values["custom_fields"], partial=True)
        values["custom_fields"] = merged(customer.custom_fields, changes)
    _check_id_number(values.get("kind", customer.kind), values.get("id_number", customer.id_number))
    return {k: v for k, v in values.items() if getattr(customer, k) != v}


async def update_customer(
    session: AsyncSession,
    principal: Principal,
    customer_id: uuid.UUID,
    change: CustomerUpdate,
    *,
    expected_version: int | None = None,
    allow_duplicate: bool = False,
) -> CustomerView:
    customer = await customer_in_scope(session, principal, customer_id, UPDATE, lock=True)
    ensure_version(customer, expected_version)
    changed = prepare_update(session, customer, change, await definitions_for(session, ENTITY))
    if "team_id" in changed:
        await ensure_team_exists(session, changed["team_id"])
    if not allow_duplicate and changed.keys() & {"phone", "email", "name", "kind"}:
        kind, name = changed.get("kind", customer.kind), changed.get("name", customer.name)
        await ensure_no_duplicate(
            session,
            phones=[("phone", changed["phone"])] if changed.get("phone") else [],
            emails=[("email", changed["email"])] if changed.get("email") else [],
            company_name=name if kind == CustomerKind.COMPANY and changed.keys() & {"name", "kind"} else None,
            exclude=customer.id,
        )
    for key, value in changed.items():
        setattr(customer, key, value)
    if "last_contacted_at" in changed:
        customer.pool_noticed_at = None  # a follow-up restarts the pool's clock
    if changed:
        await session.flush()
        await record_event(session, CustomerUpdated(customer_id=customer.id, fields=sorted(changed)))
    return customer_view(customer, principal)


async def delete_customer(
    session: AsyncSession,
    principal: Principal,
    customer_id: uuid.UUID,
    *,
    links: Sequence[CustomerLink],
    expected_version: int | None = None,
) -> None:
    """Delete a customer and its contacts (and, through ``links``, other domains' rows)."""
    customer = await customer_in_scope(session, principal, customer_id, DELETE, lock=True)
    ensure_version(customer, expected_version)
    for link in links:
        await link.deleting(session, customer.id)
    for contact in (await session.scalars(select(Contact).where(Contact.customer_id == customer.id))).all():
        await session.delete(contact)
    await session.flush()
    await session.delete(customer)
    await session.flush()
    await record_event(session, CustomerDeleted(customer_id=customer_id))


async def merge_customers(
    session: AsyncSession,
    principal: Principal,
    survivor_id: uuid.UUID,
    request: MergeRequest,
    *,
    links: Sequence[CustomerLink],
    expected_version: int | None = None,
) -> CustomerView:
    """Fold ``request.other_id`` into ``survivor_id``: its contacts move over, the survivor's
    empty fields are filled from it, tags and custom fields are combined, then it is deleted.
    ``links`` re-point other domains' rows first; the rest move on ``customers.merged``."""
    if request.other_id == survivor_id:
        raise Invalid("A customer cannot be merged into itself.", field="other_id", code="same_customer")
    survivor = await customer_in_scope(session, principal, survivor_id, MERGE, lock=True)
    ensure_version(survivor, expected_version)
    other = await customer_in_scope(session, principal, request.other_id, MERGE, lock=True, field="other_id")
    for key in FILLABLE:
        if getattr(survivor, key) is None and getattr(other, key) is not None:
            setattr(survivor, key, getattr(other, key))
    if survivor.kind == CustomerKind.COMPANY:
        survivor.id_number = None
    survivor.tags = _tags([*survivor.tags, *other.tags])
    survivor.custom_fields = {**(other.custom_fields or {}), **(survivor.custom_fields or {})}
    if other.last_contacted_at and (
        survivor.last_contacted_at is None or other.last_contacted_at > survivor.last_contacted_at
    ):
        survivor.last_contacted_at = other.last_contacted_at
    if other.last_deal_at and (survivor.last_deal_at is None or other.last_deal_at > survivor.last_deal_at):
        survivor.last_deal_at = other.last_deal_at
    moved = await contact_service.move_all(session, other.id, survivor.id)
    await session.flush()
    for link in links:
        await link.merged(session, other.id, survivor.id)
    await session.delete(other)
    await session.flush()
    await record_event(
        session,
        CustomerMerged(survivor_id=survivor.id, merged_id=request.other_id, moved_contact_ids=moved),
    )
    return customer_view(survivor, principal)


async def transfer_customers(
    session: AsyncSession, principal: Principal, request: TransferRequest, *, links: Sequence[CustomerLink]
) -> TransferResult:
    """Give the listed customers, or a filtered set of one owner's, to ``to_owner_id``. Listed
    customers may also come from the public pool (assigned by a manager: no cap applies).
    ``links`` move what follows them (their previous owner's open opportunities)."""
    target = await active_membership(session, principal, request.to_owner_id, TRANSFER, "to_owner_id")
    in_scope = await owner_filter(session, principal, TRANSFER, Customer.owner_id)
    stmt = select(Customer)
    if request.customer_ids is not None:
        wanted = set(request.customer_ids)
        listed = stmt.where(Customer.id.in_(wanted), or_(in_scope, Customer.owner_id.is_(None)))
        rows = list((await session.scalars(listed.with_for_update())).all())
        if len(rows) != len(wanted):
            raise NotFound("A customer to transfer does not exist.", field="customer_ids")
    elif request.from_owner_id is not None:
        f = CustomerFilter(
            owner_id=request.from_owner_id, stage=request.stage, level=request.level, tag=request.tag
        )
        rows = list(
            (await session.scalars(_filtered(session, stmt.where(in_scope), f).with_for_update())).all()
        )
    else:
        raise Invalid("Name the customer_ids or a from_owner_id.", field="customer_ids", code="required")
    done: list[uuid.UUID] = []
    changes: list[OwnerChange] = []
    for customer in sorted(rows, key=lambda c: c.id):
        if customer.owner_id == request.to_owner_id:
            continue
        previous = customer.owner_id
        changes.append(OwnerChange(customer.id, previous, request.to_owner_id, target.team_id))
        assign(customer, request.to_owner_id, target.team_id)
        await record_event(
            session,
            CustomerTransferred(
                customer_id=customer.id, from_owner_id=previous, to_owner_id=request.to_owner_id
            ),
        )
        done.append(customer.id)
    await session.flush()
    for link in links:
        await link.transferred(session, changes)
    return TransferResult(transferred=done)
