"""Read models of opportunities, and the arithmetic every view and report shares."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import msgspec

from core.kernel.money import rounded
from core.sales.models import ForecastCategory, Opportunity, OpportunityStatus, Stage, StageVisit
from core.sales.schemas import CurrencyTotal, OpportunityView, ProductInterest, StageTime

__all__ = ["derived_category", "opportunity_view", "stage_times", "totals", "weighted"]

#: Derived forecast category: at least this probability (percent) counts as ...
COMMIT_FROM = 70
BEST_CASE_FROM = 40


def derived_category(probability: int) -> str:
    """The forecast category a stage's probability implies (70+ commit, 40+ best case)."""
    if probability >= COMMIT_FROM:
        return ForecastCategory.COMMIT
    if probability >= BEST_CASE_FROM:
        return ForecastCategory.BEST_CASE
    return ForecastCategory.PIPELINE


def weighted(amount: Decimal, probability: int) -> Decimal:
    """``amount`` × ``probability`` %, exact (round it for display with ``money.rounded``)."""
    return amount * probability / 100


def totals(rows: Iterable[tuple[str, int, Decimal, int]]) -> list[CurrencyTotal]:
    """Per-currency totals of ``(currency, count, amount, probability)`` groups, weighted exactly
    and rounded once at the end; currencies in alphabetical order, never added together."""
    count: dict[str, int] = {}
    amount: dict[str, Decimal] = {}
    weight: dict[str, Decimal] = {}
    for currency, n, total, probability in rows:
        count[currency] = count.get(currency, 0) + n
        amount[currency] = amount.get(currency, Decimal(0)) + total
        weight[currency] = weight.get(currency, Decimal(0)) + weighted(total, probability)
    return [
        CurrencyTotal(
            currency=c, count=count[c], amount=rounded(amount[c], c), weighted_amount=rounded(weight[c], c)
        )
        for c in sorted(count)
    ]


def _rotting(opportunity: Opportunity, stage: Stage, now: datetime) -> bool:
    return (
        opportunity.status == OpportunityStatus.OPEN
        and stage.rotting_days is not None
        and now - opportunity.stage_entered_at > timedelta(days=stage.rotting_days)
    )


def stage_times(visits: Sequence[StageVisit], now: datetime) -> list[StageTime]:
    return [
        StageTime(
            stage_id=v.stage_id,
            pipeline_id=v.pipeline_id,
            entered_at=v.entered_at,
            left_at=v.left_at,
            seconds=int(((v.left_at or now) - v.entered_at).total_seconds()),
        )
        for v in visits
    ]


def opportunity_view(
    opportunity: Opportunity, stage: Stage, now: datetime, visits: Sequence[StageVisit] | None = None
) -> OpportunityView:
    return OpportunityView(
        id=opportunity.id,
        name=opportunity.name,
        customer_id=opportunity.customer_id,
        contact_id=opportunity.contact_id,
        pipeline_id=opportunity.pipeline_id,
        stage_id=opportunity.stage_id,
        probability=stage.probability,
        amount=rounded(opportunity.amount, opportunity.currency),
        currency=opportunity.currency,
        weighted_amount=rounded(weighted(opportunity.amount, stage.probability), opportunity.currency),
        expected_close_date=opportunity.expected_close_date,
        owner_id=opportunity.owner_id,
        team_id=opportunity.team_id,
        source=opportunity.source,
        products=msgspec.convert(opportunity.products or [], list[ProductInterest]),
        forecast_category=opportunity.forecast_category or derived_category(stage.probability),
        forecast_category_set=opportunity.forecast_category is not None,
        custom_fields=dict(opportunity.custom_fields or {}),
        status=opportunity.status,
        won_at=opportunity.won_at,
        lost_at=opportunity.lost_at,
        lost_reason=opportunity.lost_reason,
        stage_entered_at=opportunity.stage_entered_at,
        rotting=_rotting(opportunity, stage, now),
        created_at=opportunity.created_at,
        updated_at=opportunity.updated_at,
        version=opportunity.version,
        stage_history=msgspec.UNSET if visits is None else stage_times(visits, now),
    )
