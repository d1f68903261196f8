"""The pipeline board: the open stages in order, each with its open opportunities (the
first ``per_stage``, soonest expected close first), their count, and per-currency sums of
amount and weighted amount — all within the caller's scope."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.clock import utcnow
from core.kernel.errors import Invalid, NotFound
from core.sales.models import Opportunity, OpportunityStatus, Pipeline, Stage, StageKind
from core.sales.permissions import READ
from core.sales.schemas import BoardColumn, BoardView
from core.sales.service import stage_view
from core.sales.views import opportunity_view, totals
from core.security.principal import Principal
from core.security.scope import owner_filter

__all__ = ["MAX_PER_STAGE", "pipeline_board"]

MAX_PER_STAGE = 100


async def pipeline_board(
    session: AsyncSession, principal: Principal, pipeline_id: uuid.UUID, per_stage: int = 20
) -> BoardView:
    if not 1 <= per_stage <= MAX_PER_STAGE:
        raise Invalid(f"per_stage must be from 1 to {MAX_PER_STAGE}.", field="per_stage", code="out_of_range")
    pipeline = await session.scalar(select(Pipeline).where(Pipeline.id == pipeline_id))
    if pipeline is None:
        raise NotFound()
    stages = list(
        (
            await session.scalars(
                select(Stage)
                .where(Stage.pipeline_id == pipeline.id, Stage.kind == StageKind.OPEN)
                .order_by(Stage.position)
            )
        ).all()
    )
    scope = await owner_filter(session, principal, READ, Opportunity.owner_id)
    open_here = (Opportunity.pipeline_id == pipeline.id, Opportunity.status == OpportunityStatus.OPEN, scope)
    sums = (
        await session.execute(
            select(Opportunity.stage_id, Opportunity.currency, func.count(), func.sum(Opportunity.amount))
            .where(*open_here)
            .group_by(Opportunity.stage_id, Opportunity.currency)
        )
    ).all()
    probability = {s.id: s.probability for s in stages}
    now = utcnow()
    columns = []
    for stage in stages:
        shown = (
            await session.scalars(
                select(Opportunity)
                .where(*open_here, Opportunity.stage_id == stage.id)
                .order_by(Opportunity.expected_close_date.asc().nulls_last(), Opportunity.id)
                .limit(per_stage)
            )
        ).all()
        groups = [(c, n, total, stage.probability) for s, c, n, total in sums if s == stage.id]
        columns.append(
            BoardColumn(
                stage=stage_view(stage),
                opportunities=[opportunity_view(o, stage, now) for o in shown],
                count=sum(n for _, n, _, _ in groups),
                totals=totals(groups),
            )
        )
    everything = [(c, n, total, probability[s]) for s, c, n, total in sums if s in probability]
    return BoardView(pipeline_id=pipeline.id, name=pipeline.name, columns=columns, totals=totals(everything))
