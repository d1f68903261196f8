"""Sales reports: the forecast, the funnel of a pipeline and the win rate.

Every figure is within the caller's scope of ``opportunities.read`` (a rep sees their own
numbers only), per currency (amounts of different currencies are never added), summed in
SQL on the exact integer amounts and weighted in Decimal: a group's weighted amount is its
summed amount × the stage's probability, rounded once, at the end, to the currency's unit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.kernel.errors import NotFound
from core.kernel.money import rounded
from core.kernel.tenancy import current_tenant_id
from core.sales.models import (
    ForecastCategory,
    Opportunity,
    OpportunityStatus,
    Pipeline,
    Stage,
    StageKind,
    StageVisit,
)
from core.sales.permissions import READ
from core.sales.schemas import (
    Figures,
    ForecastLine,
    ForecastView,
    FunnelStep,
    FunnelView,
    WinRate,
    WinRateView,
)
from core.sales.service import stage_view
from core.sales.views import derived_category, totals, weighted
from core.security.principal import Principal
from core.security.scope import owner_filter

__all__ = ["forecast", "funnel", "win_rates"]

#: The categories a forecast adds up (``omitted`` stays out).
CATEGORIES = (ForecastCategory.COMMIT, ForecastCategory.BEST_CASE, ForecastCategory.PIPELINE)


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _month(session: AsyncSession, column: Any) -> ColumnElement[str]:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


class _Lines:
    """Forecast cells by (key, currency) and category: count, amount, exact weighted amount."""

    def __init__(self) -> None:
        self._cells: dict[tuple[str | None, str], dict[str, list[Any]]] = {}

    def add(
        self, key: str | None, currency: str, category: str, n: int, amount: Decimal, probability: int
    ) -> None:
        cell = self._cells.setdefault((key, currency), {c: [0, Decimal(0), Decimal(0)] for c in CATEGORIES})
        figures = cell[category]
        figures[0] += n
        figures[1] += amount
        figures[2] += weighted(amount, probability)

    def lines(self) -> list[ForecastLine]:
        def figures(values: Sequence[Any], currency: str) -> Figures:
            return Figures(
                count=values[0],
                amount=rounded(values[1], currency),
                weighted_amount=rounded(values[2], currency),
            )

        out = []
        for (key, currency), cell in sorted(self._cells.items(), key=lambda kv: (kv[0][0] is None, kv[0])):
            total = [sum(cell[c][i] for c in CATEGORIES) for i in range(3)]
            out.append(
                ForecastLine(
                    key=key,
                    currency=currency,
                    commit=figures(cell[ForecastCategory.COMMIT], currency),
                    best_case=figures(cell[ForecastCategory.BEST_CASE], currency),
                    pipeline=figures(cell[ForecastCategory.PIPELINE], currency),
                    total=figures(total, currency),
                )
            )
        return out


async def forecast(
    session: AsyncSession,
    principal: Principal,
    *,
    pipeline_id: uuid.UUID | None = None,
    close_from: date | None = None,
    close_to: date | None = None,
) -> ForecastView:
    """The weighted pipeline of open opportunities by expected-close month, owner and team, in
    the commit / best case / pipeline categories; ``close_from``/``close_to`` are inclusive."""
    month = _month(session, Opportunity.expected_close_date).label("month")
    stmt = (
        select(
            month,
            Opportunity.owner_id,
            Opportunity.team_id,
            Opportunity.forecast_category,
            Stage.probability,
            Opportunity.currency,
            func.count(),
            func.sum(Opportunity.amount),
        )
        .join(Stage, (Stage.tenant_id == Opportunity.tenant_id) & (Stage.id == Opportunity.stage_id))
        .where(
            Opportunity.status == OpportunityStatus.OPEN,
            await owner_filter(session, principal, READ, Opportunity.owner_id),
        )
        .group_by(
            month,
            Opportunity.owner_id,
            Opportunity.team_id,
            Opportunity.forecast_category,
            Stage.probability,
            Opportunity.currency,
        )
    )
    if pipeline_id is not None:
        stmt = stmt.where(Opportunity.pipeline_id == pipeline_id)
    if close_from is not None:
        stmt = stmt.where(Opportunity.expected_close_date >= close_from)
    if close_to is not None:
        stmt = stmt.where(Opportunity.expected_close_date <= close_to)
    by_month, by_owner, by_team, overall = _Lines(), _Lines(), _Lines(), _Lines()
    for row_month, owner_id, team_id, category, probability, currency, n, amount in (
        await session.execute(stmt)
    ).all():
        category = category or derived_category(probability)
        if category == ForecastCategory.OMITTED:
            continue
        for lines, key in (
            (by_month, row_month),
            (by_owner, str(owner_id)),
            (by_team, str(team_id) if team_id else None),
            (overall, None),
        ):
            lines.add(key, currency, category, n, amount, probability)
    return ForecastView(
        by_month=by_month.lines(), by_owner=by_owner.lines(), by_team=by_team.lines(), totals=overall.lines()
    )


async def _win_rates(
    session: AsyncSession, where: Sequence[ColumnElement[bool]], column: Any
) -> tuple[WinRate, list[WinRate]]:
    """The overall win rate of the opportunities ``where`` selects, and one per ``column``."""
    won = func.sum(case((Opportunity.status == OpportunityStatus.WON, 1), else_=0))
    lost = func.sum(case((Opportunity.status == OpportunityStatus.LOST, 1), else_=0))
    rows = (await session.execute(select(column, won, lost).where(*where).group_by(column))).all()
    lines = [
        WinRate(
            key=None if key is None else str(key),
            won=int(w or 0),
            lost=int(lo or 0),
            win_rate=_percent(int(w or 0), int(w or 0) + int(lo or 0)),
        )
        for key, w, lo in rows
    ]
    lines.sort(key=lambda r: (r.key is None, r.key or ""))
    all_won, all_lost = sum(r.won for r in lines), sum(r.lost for r in lines)
    return WinRate(
        key=None, won=all_won, lost=all_lost, win_rate=_percent(all_won, all_won + all_lost)
    ), lines


async def win_rates(
    session: AsyncSession,
    principal: Principal,
    *,
    pipeline_id: uuid.UUID | None = None,
    closed_from: date | None = None,
    closed_to: date | None = None,
) -> WinRateView:
    """Won / (won + lost) of the opportunities closed in the range (inclusive dates), overall,
    by source and by owner."""
    closed_at = func.coalesce(Opportunity.won_at, Opportunity.lost_at)
    where: list[ColumnElement[bool]] = [
        Opportunity.status.in_((OpportunityStatus.WON, OpportunityStatus.LOST)),
        await owner_filter(session, principal, READ, Opportunity.owner_id),
    ]
    if pipeline_id is not None:
        where.append(Opportunity.pipeline_id == pipeline_id)
    if closed_from is not None:
        where.append(closed_at >= _start(closed_from))
    if closed_to is not None:
        where.append(closed_at < _start(closed_to + timedelta(days=1)))
    overall, by_source = await _win_rates(session, where, Opportunity.source)
    _, by_owner = await _win_rates(session, where, Opportunity.owner_id)
    return WinRateView(overall=overall, by_source=by_source, by_owner=by_owner)


async def funnel(
    session: AsyncSession,
    principal: Principal,
    pipeline_id: uuid.UUID,
    *,
    created_from: date | None = None,
    created_to: date | None = None,
) -> FunnelView:
    """How many of the pipeline's opportunities created in the range (inclusive dates)
    reached each stage, from their stage history: an opportunity reached an open stage when it
    was in it or a later one, or won; the won stage when it was won."""
    pipeline = await session.scalar(select(Pipeline).where(Pipeline.id == pipeline_id))
    if pipeline is None:
        raise NotFound()
    tenant_id = current_tenant_id()
    cohort: list[ColumnElement[bool]] = [
        Opportunity.pipeline_id == pipeline.id,
        await owner_filter(session, principal, READ, Opportunity.owner_id),
    ]
    if created_from is not None:
        cohort.append(Opportunity.created_at >= _start(created_from))
    if created_to is not None:
        cohort.append(Opportunity.created_at < _start(created_to + timedelta(days=1)))
    reached = (
        select(
            StageVisit.opportunity_id.label("opportunity_id"),
            func.max(case((Stage.kind == StageKind.OPEN, Stage.position), else_=0)).label("furthest"),
            func.max(case((Stage.kind == StageKind.WON, 1), else_=0)).label("won"),
        )
        .join(Stage, (Stage.tenant_id == StageVisit.tenant_id) & (Stage.id == StageVisit.stage_id))
        .where(StageVisit.tenant_id == tenant_id, Stage.pipeline_id == pipeline.id)
        .group_by(StageVisit.opportunity_id)
        .subquery()
    )
    step = aliased(Stage)
    hit = or_(
        and_(step.kind == StageKind.OPEN, or_(reached.c.furthest >= step.position, reached.c.won == 1)),
        and_(step.kind == StageKind.WON, reached.c.won == 1),
    )
    rows = (
        await session.execute(
            select(step.id, Opportunity.currency, func.count(), func.sum(Opportunity.amount))
            .select_from(Opportunity)
            .join(reached, reached.c.opportunity_id == Opportunity.id)
            .join(step, and_(step.tenant_id == Opportunity.tenant_id, step.pipeline_id == pipeline.id, hit))
            .where(*cohort)
            .group_by(step.id, Opportunity.currency)
        )
    ).all()
    stages = (
        await session.scalars(
            select(Stage)
            .where(Stage.pipeline_id == pipeline.id, Stage.kind != StageKind.LOST)
            .order_by(Stage.position)
        )
    ).all()
    steps: list[FunnelStep] = []
    for stage in stages:
        groups = [(c, n, amount, stage.probability) for s, c, n, amount in rows if s == stage.id]
        count = sum(n for _, n, _, _ in groups)
        previous = steps[-1].count if steps else None
        steps.append(
            FunnelStep(
                stage=stage_view(stage),
                count=count,
                amounts=totals(groups),
                conversion_rate=None if previous is None else _percent(count, previous),
            )
        )
    size = await session.scalar(select(func.count()).select_from(Opportunity).where(*cohort)) or 0
    lost = await session.scalar(
        select(func.count())
        .select_from(Opportunity)
        .where(*cohort, Opportunity.status == OpportunityStatus.LOST)
    )
    overall, by_source = await _win_rates(session, cohort, Opportunity.source)
    return FunnelView(
        pipeline_id=pipeline.id,
        cohort=size,
        steps=steps,
        lost=lost or 0,
        average_cycle_days=await _average_cycle_days(session, cohort),
        win_rate=overall,
        win_rate_by_source=by_source,
    )


async def _average_cycle_days(session: AsyncSession, cohort: Sequence[ColumnElement[bool]]) -> Decimal | None:
    """Mean days from creation to the win, over the won ones (one decimal)."""
    won = (
        await session.execute(
            select(Opportunity.created_at, Opportunity.won_at).where(
                *cohort, Opportunity.status == OpportunityStatus.WON
            )
        )
    ).all()
    days = [Decimal(int((w - c).total_seconds())) / 86400 for c, w in won if w is not None]
    if not days:
        return None
    return (sum(days, Decimal(0)) / len(days)).quantize(Decimal("0.1"), ROUND_HALF_UP)
