"""The query parameters of the filtered lists, as one dependency per list, so that a list and
its export (``/api/v1/<list>/export``) take exactly the same filters: the named ones below,
plus ``cf.<key>`` for each custom field."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery

from core.customers.schemas import CustomerFilter
from core.leads.schemas import LeadFilter
from core.sales.schemas import OpportunityFilter

__all__ = [
    "CustomerFilterDep",
    "LeadFilterDep",
    "OpportunityFilterDep",
    "customer_filters",
    "lead_filters",
    "opportunity_filters",
]

CustomerFilterDep = NamedDependency[CustomerFilter]
LeadFilterDep = NamedDependency[LeadFilter]
OpportunityFilterDep = NamedDependency[OpportunityFilter]


def _custom(request: Request[Any, Any, Any]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.query_params.multi_items() if k.startswith("cf.")]


def _customer_filter(
    request: Request[Any, Any, Any],
    q: FromQuery[str | None] = None,
    name_prefix: FromQuery[str | None] = None,
    phone: FromQuery[str | None] = None,
    email: FromQuery[str | None] = None,
    tag: FromQuery[str | None] = None,
    owner_id: FromQuery[uuid.UUID | None] = None,
    level: FromQuery[str | None] = None,
    stage: FromQuery[str | None] = None,
    kind: FromQuery[str | None] = None,
    last_contacted_from: FromQuery[datetime | None] = None,
    last_contacted_to: FromQuery[datetime | None] = None,
) -> CustomerFilter:
    return CustomerFilter(
        q=q,
        name_prefix=name_prefix,
        phone=phone,
        email=email,
        tag=tag,
        owner_id=owner_id,
        level=level,
        stage=stage,
        kind=kind,
        last_contacted_from=last_contacted_from,
        last_contacted_to=last_contacted_to,
        custom=_custom(request),
    )


def _lead_filter(
    request: Request[Any, Any, Any],
    q: FromQuery[str | None] = None,
    phone: FromQuery[str | None] = None,
    email: FromQuery[str | None] = None,
    status: FromQuery[str | None] = None,
    source: FromQuery[str | None] = None,
    region: FromQuery[str | None] = None,
    owner_id: FromQuery[uuid.UUID | None] = None,
    unassigned: FromQuery[bool | None] = None,
    form_id: FromQuery[uuid.UUID | None] = None,
    created_from: FromQuery[datetime | None] = None,
    created_to: FromQuery[datetime | None] = None,
) -> LeadFilter:
    return LeadFilter(
        q=q,
        phone=phone,
        email=email,
        status=status,
        source=source,
        region=region,
        owner_id=owner_id,
        unassigned=unassigned,
        form_id=form_id,
        created_from=created_from,
        created_to=created_to,
        custom=_custom(request),
    )


def _opportunity_filter(
    request: Request[Any, Any, Any],
    q: FromQuery[str | None] = None,
    pipeline_id: FromQuery[uuid.UUID | None] = None,
    stage_id: FromQuery[uuid.UUID | None] = None,
    owner_id: FromQuery[uuid.UUID | None] = None,
    status: FromQuery[str | None] = None,
    customer_id: FromQuery[uuid.UUID | None] = None,
    close_from: FromQuery[date | None] = None,
    close_to: FromQuery[date | None] = None,
    amount_min: FromQuery[Decimal | None] = None,
    amount_max: FromQuery[Decimal | None] = None,
    currency: FromQuery[str | None] = None,
) -> OpportunityFilter:
    return OpportunityFilter(
        q=q,
        pipeline_id=pipeline_id,
        stage_id=stage_id,
        owner_id=owner_id,
        status=status,
        customer_id=customer_id,
        close_from=close_from,
        close_to=close_to,
        amount_min=amount_min,
        amount_max=amount_max,
        currency=currency,
        custom=_custom(request),
    )


#: ``dependencies=`` of a route that takes ``filters: CustomerFilterDep`` (and so on).
customer_filters = {"filters": Provide(_customer_filter, sync_to_thread=False)}
lead_filters = {"filters": Provide(_lead_filter, sync_to_thread=False)}
opportunity_filters = {"filters": Provide(_opportunity_filter, sync_to_thread=False)}
