"""Opportunity use cases: add, list, show, change, delete. Each public function is one
transaction's worth of work. Stage moves and closing are in ``core/sales/moves.py``.

Scope: an opportunity belongs to its owner, so ``opportunities.*`` grants of
``own``/``team``/``all`` apply as they do to customers; an out-of-scope id is "not found".
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.customers import permissions as customer_permissions
from core.customers.access import active_membership, contact_customer_in_scope, customer_in_scope
from core.customfields.query import filter_clauses
from core.customfields.service import custom_sort_keys, definitions_for
from core.customfields.validation import merged, validate
from core.events.service import record_event
from core.kernel.clock import utcnow
from core.kernel.concurrency import ensure_version
from core.kernel.errors import Conflict, Invalid, NotFound, one_of
from core.kernel.money import check_amount, check_currency
from core.kernel.pagination import Page, PageRequest, paginate
from core.kernel.search import contains
from core.sales.events import OpportunityCreated
from core.sales.models import (
    ForecastCategory,
    Opportunity,
    OpportunityStatus,
    Pipeline,
    Stage,
    StageKind,
    StageVisit,
)
from core.sales.permissions import CREATE, DELETE, READ, UPDATE
from core.sales.schemas import (
    OpportunityCreate,
    OpportunityFilter,
    OpportunityUpdate,
    OpportunityView,
    ProductInterest,
)
from core.sales.views import opportunity_view
from core.security.principal import Principal
from core.security.scope import owner_filter
from core.security.teams import ensure_team_exists

__all__ = [
    "DEFAULT_CURRENCY",
    "ENTITY",
    "create_opportunity",
    "delete_all",
    "delete_opportunity",
    "first_open_stage",
    "get_opportunity",
    "hold_pipeline",
    "list_opportunities",
    "opportunities_query",
    "opportunity_in_scope",
    "stages_by_id",
    "update_opportunity",
    "view_of",
]

#: The custom-field entity of opportunities (core/customfields).
ENTITY = "opportunity"
#: The currency of an opportunity created without one, until the business's settings carry
#: a currency of their own.
DEFAULT_CURRENCY = "CNY"
MAX_QUANTITY = Decimal(10) ** 9
SORTABLE = {
    "name": Opportunity.name,
    "amount": Opportunity.amount,
    "created_at": Opportunity.created_at,
    "updated_at": Opportunity.updated_at,
}


async def opportunity_in_scope(
    session: AsyncSession,
    principal: Principal,
    opportunity_id: uuid.UUID,
    permission: str,
    *,
    lock: bool = False,
    field: str | None = None,
) -> Opportunity:
    """The one access path: the opportunity, if within the caller's scope of ``permission``;
    otherwise (missing, another tenant's, a colleague's for a rep) not found."""
    stmt = select(Opportunity).where(
        Opportunity.id == opportunity_id,
        await owner_filter(session, principal, permission, Opportunity.owner_id),
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    opportunity = await session.scalar(stmt)
    if opportunity is None:
        raise NotFound("The opportunity does not exist.", field=field) if field else NotFound()
    return opportunity


async def stages_by_id(session: AsyncSession) -> dict[uuid.UUID, Stage]:
    """Every stage of the tenant (a few dozen at most), for views of many opportunities."""
    return {s.id: s for s in (await session.scalars(select(Stage))).all()}


async def view_of(
    session: AsyncSession, opportunity: Opportunity, *, history: bool = False
) -> OpportunityView:
    stage = await session.get_one(Stage, (opportunity.tenant_id, opportunity.stage_id))
    visits = None
    if history:
        visits = (
            await session.scalars(
                select(StageVisit)
                .where(StageVisit.opportunity_id == opportunity.id)
                .order_by(StageVisit.entered_at, StageVisit.id)
            )
        ).all()
    return opportunity_view(opportunity, stage, utcnow(), visits)


async def first_open_stage(session: AsyncSession, pipeline_id: uuid.UUID) -> Stage:
    """The pipeline's first open stage (the pipeline rules keep one)."""
    return (
        await session.scalars(
            select(Stage)
            .where(Stage.pipeline_id == pipeline_id, Stage.kind == StageKind.OPEN)
            .order_by(Stage.position)
            .limit(1)
        )
    ).one()


async def hold_pipeline(session: AsyncSession, pipeline: Pipeline, *, field: str) -> None:
    """Share-lock the pipeline (``FOR KEY SHARE``) for putting an opportunity in one of its
    stages: a stage removal (which locks the pipeline ``FOR UPDATE``) waits for this
    transaction and then sees the opportunity, or goes first and the stage is gone. Refuses an
    archived pipeline."""
    archived_at = await session.scalar(
        select(Pipeline.archived_at)
        .where(Pipeline.id == pipeline.id)
        .with_for_update(read=True, key_share=True)
    )
    if archived_at is not None:
        raise Conflict("The pipeline is archived.", field=field, code="pipeline_archived")


async def _placement(
    session: AsyncSession, pipeline_id: uuid.UUID | None, stage_id: uuid.UUID | None
) -> tuple[Pipeline, Stage]:
    """The pipeline and open stage a new opportunity starts in (defaults: the default
    pipeline, its first open stage)."""
    stage: Stage | None = None
    if stage_id is not None:
        stage = await session.scalar(select(Stage).where(Stage.id == stage_id))
        if stage is None or (pipeline_id is not None and stage.pipeline_id != pipeline_id):
            raise NotFound("No such stage in this pipeline.", field="stage_id")
        pipeline_id = stage.pipeline_id
    where = Pipeline.id == pipeline_id if pipeline_id is not None else Pipeline.is_default.is_(True)
    pipeline = await session.scalar(select(Pipeline).where(where))
    if pipeline is None:
        raise NotFound("No such pipeline.", field="pipeline_id")
    await hold_pipeline(session, pipeline, field="pipeline_id")
    if stage is not None and await session.scalar(select(Stage.id).where(Stage.id == stage.id)) is None:
        raise NotFound("No such stage in this pipeline.", field="stage_id")  # removed meanwhile
    if stage is None:
        stage = await first_open_stage(session, pipeline.id)
    elif stage.kind != StageKind.OPEN:
        raise Invalid(
            "A new opportunity starts in an open stage; mark it won or lost afterwards.",
            field="stage_id",
            code="stage_closed",
        )
    return pipeline, stage


def _products(items: list[ProductInterest]) -> list[dict[str, Any]]:
    for index, item in enumerate(items):
        if item.quantity is not None and not (0 < item.quantity < MAX_QUANTITY):
            raise Invalid(
                "A quantity is a number above 0 (and below a billion).",
                field=f"products[{index}].quantity",
                code="out_of_range",
            )
    return list(msgspec.to_builtins(items))


def _category(value: str | None) -> str | None:
    return None if value is None else one_of(value, ForecastCategory.ALL, "forecast_category")


def _clean(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


async def _contact(
    session: AsyncSession, principal: Principal, contact_id: uuid.UUID | None, customer_id: uuid.UUID
) -> uuid.UUID | None:
    if contact_id is not None:
        customer = await contact_customer_in_scope(
            session, principal, contact_id, customer_permissions.READ, field="contact_id"
        )
        if customer.id != customer_id:
            raise Invalid(
                "The contact is not one of the customer's.", field="contact_id", code="other_customer"
            )
    return contact_id


async def create_opportunity(
    session: AsyncSession, principal: Principal, data: OpportunityCreate
) -> OpportunityView:
    """Add an opportunity for a customer the caller may see, owned by ``owner_id`` or the caller."""
    name = _clean(data.name)
    if name is None:
        raise Invalid("A name is required.", field="name", code="required")
    customer = await customer_in_scope(
        session, principal, data.customer_id, customer_permissions.READ, field="customer_id"
    )
    contact_id = await _contact(session, principal, data.contact_id, customer.id)
    owner_id = data.owner_id or principal.user_id
    if owner_id is None:
        raise Invalid("Name the owner (a user id).", field="owner_id", code="required")
    owner = await active_membership(session, principal, owner_id, CREATE, "owner_id", records="opportunities")
    team_id = data.team_id if data.team_id is not None else owner.team_id
    await ensure_team_exists(session, team_id)
    currency = check_currency(data.currency or DEFAULT_CURRENCY)
    pipeline, stage = await _placement(session, data.pipeline_id, data.stage_id)
    now = utcnow()
    opportunity = Opportunity(
        name=name,
        customer_id=customer.id,
        contact_id=contact_id,
        pipeline_id=pipeline.id,
        stage_id=stage.id,
        amount=check_amount(data.amount, currency),
        currency=currency,
        expected_close_date=data.expected_close_date,
        owner_id=owner_id,
        team_id=team_id,
        source=_clean(data.source),
        products=_products(data.products),
        forecast_category=_category(data.forecast_category),
        custom_fields=validate(await definitions_for(session, ENTITY), data.custom_fields, partial=False),
        status=OpportunityStatus.OPEN,
        stage_entered_at=now,
        created_at=now,
    )
    session.add(opportunity)
    await session.flush()
    session.add(
        StageVisit(
            opportunity_id=opportunity.id,
            pipeline_id=pipeline.id,
            stage_id=stage.id,
            entered_at=now,
            moved_by=principal.user_id,
        )
    )
    await session.flush()
    await record_event(
        session,
        OpportunityCreated(
            opportunity_id=opportunity.id,
            customer_id=customer.id,
            owner_id=owner_id,
            pipeline_id=pipeline.id,
            stage_id=stage.id,
            actor_id=principal.user_id,
        ),
    )
    return opportunity_view(opportunity, stage, now)


async def _filtered(session: AsyncSession, stmt: Select[Any], f: OpportunityFilter) -> Select[Any]:
    if f.q:
        stmt = stmt.where(contains(Opportunity.name, f.q))
    if f.status:
        stmt = stmt.where(Opportunity.status == one_of(f.status, OpportunityStatus.ALL, "status"))
    for column, value in (
        (Opportunity.pipeline_id, f.pipeline_id),
        (Opportunity.stage_id, f.stage_id),
        (Opportunity.owner_id, f.owner_id),
        (Opportunity.customer_id, f.customer_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if f.close_from:
        stmt = stmt.where(Opportunity.expected_close_date >= f.close_from)
    if f.close_to:
        stmt = stmt.where(Opportunity.expected_close_date <= f.close_to)
    if f.amount_min is not None:
        stmt = stmt.where(Opportunity.amount >= f.amount_min)
    if f.amount_max is not None:
        stmt = stmt.where(Opportunity.amount <= f.amount_max)
    if f.currency:
        stmt = stmt.where(Opportunity.currency == check_currency(f.currency))
    if f.custom:
        definitions = await definitions_for(session, ENTITY)
        stmt = stmt.where(*filter_clauses(definitions, Opportunity.custom_fields, f.custom))
    return stmt


async def opportunities_query(
    session: AsyncSession, principal: Principal, f: OpportunityFilter
) -> Select[Any]:
    """The list's query: ``f`` applied within the caller's read scope (exports narrow it further)."""
    return (await _filtered(session, select(Opportunity), f)).where(
        await owner_filter(session, principal, READ, Opportunity.owner_id)
    )


async def list_opportunities(
    session: AsyncSession, principal: Principal, page: PageRequest, f: OpportunityFilter
) -> Page[OpportunityView]:
    """Opportunities within the caller's scope, filtered, sorted and paged."""
    stmt = await opportunities_query(session, principal, f)
    stages, now = await stages_by_id(session), utcnow()
    return await paginate(
        session,
        stmt,
        Opportunity.id,
        page,
        lambda o: opportunity_view(o, stages[o.stage_id], now),
        sortable=SORTABLE,
        sort_keys=await custom_sort_keys(session, ENTITY, Opportunity.custom_fields, page),
    )


async def get_opportunity(
    session: AsyncSession, principal: Principal, opportunity_id: uuid.UUID
) -> OpportunityView:
    """One opportunity, with its stage history (time spent in each stage)."""
    opportunity = await opportunity_in_scope(session, principal, opportunity_id, READ)
    return await view_of(session, opportunity, history=True)


async def update_opportunity(
    session: AsyncSession,
    principal: Principal,
    opportunity_id: uuid.UUID,
    change: OpportunityUpdate,
    *,
    expected_version: int | None = None,
) -> OpportunityView:
    opportunity = await opportunity_in_scope(session, principal, opportunity_id, UPDATE, lock=True)
    ensure_version(opportunity, expected_version)
    values = {k: v for k, v in msgspec.structs.asdict(change).items() if v is not msgspec.UNSET}
    if "name" in values and _clean(values["name"]) is None:
        raise Invalid("A name is required.", field="name", code="required")
    for key in ("name", "source"):
        if key in values:
            values[key] = _clean(values[key])
    currency = check_currency(values["currency"]) if "currency" in values else opportunity.currency
    if "currency" in values:
        values["currency"] = currency
    if "amount" in values or "currency" in values:
        values["amount"] = check_amount(values.get("amount", opportunity.amount), currency)
    if "contact_id" in values:
        await _contact(session, principal, values["contact_id"], opportunity.customer_id)
    if "team_id" in values:
        await ensure_team_exists(session, values["team_id"])
    if "forecast_category" in values:
        _category(values["forecast_category"])
    if "products" in values:
        values["products"] = _products(values["products"])
    if "custom_fields" in values:
        changes = validate(await definitions_for(session, ENTITY), values["custom_fields"], partial=True)
        values["custom_fields"] = merged(opportunity.custom_fields, changes)
    for key, value in values.items():
        if getattr(opportunity, key) != value:
            setattr(opportunity, key, value)
    await session.flush()
    return await view_of(session, opportunity)


async def delete_opportunity(
    session: AsyncSession,
    principal: Principal,
    opportunity_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> None:
    opportunity = await opportunity_in_scope(session, principal, opportunity_id, DELETE, lock=True)
    ensure_version(opportunity, expected_version)
    await delete_all(session, [opportunity])


async def delete_all(session: AsyncSession, opportunities: list[Opportunity]) -> None:
    """Delete ``opportunities`` and their stage history (each deletion audited)."""
    if not opportunities:
        return
    await session.execute(
        delete(StageVisit).where(StageVisit.opportunity_id.in_([o.id for o in opportunities]))
    )
    for opportunity in opportunities:
        await session.delete(opportunity)
    await session.flush()
