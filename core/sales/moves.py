"""Moving opportunities: between stages, to won or lost, back open, to another owner.

Every move locks the opportunity (``FOR UPDATE``) and checks its ``If-Match``, closes the
current stay in the stage history and opens the next one, so two moves racing queue up and
the history never has two open stays. Every win goes through :func:`_win`, every loss
through :func:`_lose`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.customers import pool
from core.customers.access import active_membership
from core.events.service import record_event
from core.kernel.checks import check
from core.kernel.clock import utcnow
from core.kernel.concurrency import ensure_version
from core.kernel.errors import Conflict, Invalid, NotFound
from core.kernel.money import check_amount
from core.sales.events import (
    OpportunityLost,
    OpportunityReopened,
    OpportunityStageChanged,
    OpportunityTransferred,
    OpportunityWon,
)
from core.sales.models import Opportunity, OpportunityStatus, Pipeline, Stage, StageKind, StageVisit
from core.sales.opportunities import first_open_stage, hold_pipeline, opportunity_in_scope, view_of
from core.sales.permissions import CLOSE, REOPEN, TRANSFER, UPDATE
from core.sales.schemas import (
    LostRequest,
    OpportunityView,
    ReopenRequest,
    StageMove,
    TransferRequest,
    WonRequest,
)
from core.security.principal import Principal

__all__ = ["lose_opportunity", "move_stage", "reopen_opportunity", "transfer_opportunity", "win_opportunity"]


async def _enter(
    session: AsyncSession, opportunity: Opportunity, stage: Stage, at: datetime, actor: uuid.UUID | None
) -> None:
    """Close the current stay and open one in ``stage`` (of its pipeline)."""
    current = await session.scalar(
        select(StageVisit).where(StageVisit.opportunity_id == opportunity.id, StageVisit.left_at.is_(None))
    )
    if current is not None:
        current.left_at = at
    opportunity.pipeline_id = stage.pipeline_id
    opportunity.stage_id = stage.id
    opportunity.stage_entered_at = at
    session.add(
        StageVisit(
            opportunity_id=opportunity.id,
            pipeline_id=stage.pipeline_id,
            stage_id=stage.id,
            entered_at=at,
            moved_by=actor,
        )
    )


async def _stage(session: AsyncSession, stage_id: uuid.UUID) -> Stage:
    stage = await session.scalar(select(Stage).where(Stage.id == stage_id))
    if stage is None:
        raise NotFound("No such stage.", field="stage_id")
    pipeline = await session.get_one(Pipeline, (stage.tenant_id, stage.pipeline_id))
    await hold_pipeline(session, pipeline, field="stage_id")
    if await session.scalar(select(Stage.id).where(Stage.id == stage_id)) is None:
        raise NotFound("No such stage.", field="stage_id")  # removed meanwhile
    return stage


async def _closing_stage(session: AsyncSession, pipeline_id: uuid.UUID, kind: str) -> Stage:
    return (
        await session.scalars(select(Stage).where(Stage.pipeline_id == pipeline_id, Stage.kind == kind))
    ).one()


def _ensure_open(opportunity: Opportunity) -> None:
    if opportunity.status != OpportunityStatus.OPEN:
        raise Conflict(
            f"The opportunity is {opportunity.status}; reopen it first.", code="opportunity_closed"
        )


async def _locked(
    session: AsyncSession,
    principal: Principal,
    opportunity_id: uuid.UUID,
    permission: str,
    expected_version: int | None,
) -> Opportunity:
    opportunity = await opportunity_in_scope(session, principal, opportunity_id, permission, lock=True)
    ensure_version(opportunity, expected_version)
    return opportunity


async def _win(
    session: AsyncSession,
    principal: Principal,
    opportunity: Opportunity,
    stage: Stage,
    amount: Decimal | None,
) -> None:
    """The one place an opportunity is won (moving into the won stage or ``/won``)."""
    now = utcnow()
    if amount is not None:
        opportunity.amount = check_amount(amount, opportunity.currency)
    await _enter(session, opportunity, stage, now, principal.user_id)
    opportunity.status = OpportunityStatus.WON
    opportunity.won_at, opportunity.lost_at, opportunity.lost_reason = now, None, None
    await session.flush()
    await pool.record_deal(session, opportunity.customer_id, now)  # the pool's clock restarts
    await record_event(
        session,
        OpportunityWon(
            opportunity_id=opportunity.id,
            customer_id=opportunity.customer_id,
            owner_id=opportunity.owner_id,
            amount=str(opportunity.amount),
            currency=opportunity.currency,
            actor_id=principal.user_id,
        ),
    )


async def _lose(
    session: AsyncSession, principal: Principal, opportunity: Opportunity, stage: Stage, reason: str | None
) -> None:
    """The one place an opportunity is lost: a reason is required."""
    reason = (reason or "").strip() or None
    if reason is None:
        raise Invalid("Say why the opportunity was lost.", field="lost_reason", code="required")
    now = utcnow()
    await _enter(session, opportunity, stage, now, principal.user_id)
    opportunity.status = OpportunityStatus.LOST
    opportunity.lost_at, opportunity.lost_reason, opportunity.won_at = now, reason, None
    await session.flush()
    await record_event(
        session,
        OpportunityLost(
            opportunity_id=opportunity.id,
            customer_id=opportunity.customer_id,
            owner_id=opportunity.owner_id,
            actor_id=principal.user_id,
        ),
    )


async def move_stage(
    session: AsyncSession,
    principal: Principal,
    opportunity_id: uuid.UUID,
    move: StageMove,
    *,
    expected_version: int | None = None,
) -> OpportunityView:
    """Move an open opportunity to another stage (of its pipeline or another active one); the
    won or lost stage closes it, which also needs ``opportunities.close``."""
    opportunity = await _locked(session, principal, opportunity_id, UPDATE, expected_version)
    _ensure_open(opportunity)
    stage = await _stage(session, move.stage_id)
    if stage.kind != StageKind.OPEN:
        await opportunity_in_scope(session, principal, opportunity.id, CLOSE)
        if stage.kind == StageKind.WON:
            await _win(session, principal, opportunity, stage, None)
        else:
            await _lose(session, principal, opportunity, stage, move.lost_reason)
    elif stage.id != opportunity.stage_id:
        previous = opportunity.stage_id
        await _enter(session, opportunity, stage, utcnow(), principal.user_id)
        await session.flush()
        await record_event(
            session,
            OpportunityStageChanged(
                opportunity_id=opportunity.id,
                customer_id=opportunity.customer_id,
                from_stage_id=previous,
                to_stage_id=stage.id,
                actor_id=principal.user_id,
            ),
        )
    view = await view_of(session, opportunity, history=True)
    if stage.kind == StageKind.WON:
        await check(session, "before_opportunity_win", opportunity=view)
    return view


async def win_opportunity(
    session: AsyncSession,
    principal: Principal,
    opportunity_id: uuid.UUID,
    request: WonRequest,
    *,
    expected_version: int | None = None,
) -> OpportunityView:
    """Mark it won: into its pipeline's won stage, optionally with the final amount."""
    opportunity = await _locked(session, principal, opportunity_id, CLOSE, expected_version)
    _ensure_open(opportunity)
    stage = await _closing_stage(session, opportunity.pipeline_id, StageKind.WON)
    await _win(session, principal, opportunity, stage, request.amount)
    view = await view_of(session, opportunity, history=True)
    await check(session, "before_opportunity_win", opportunity=view)
    return view


async def lose_opportunity(
    session: AsyncSession,
    principal: Principal,
    opportunity_id: uuid.UUID,
    request: LostRequest,
    *,
    expected_version: int | None = None,
) -> OpportunityView:
    """Mark it lost, with the reason: into its pipeline's lost stage."""
    opportunity = await _locked(session, principal, opportunity_id, CLOSE, expected_version)
    _ensure_open(opportunity)
    stage = await _closing_stage(session, opportunity.pipeline_id, StageKind.LOST)
    await _lose(session, principal, opportunity, stage, request.reason)
    return await view_of(session, opportunity, history=True)


async def reopen_opportunity(
    session: AsyncSession,
    principal: Principal,
    opportunity_id: uuid.UUID,
    request: ReopenRequest,
    *,
    expected_version: int | None = None,
) -> OpportunityView:
    """Open a won or lost opportunity again, in ``stage_id`` or the last open stage it was in."""
    opportunity = await _locked(session, principal, opportunity_id, REOPEN, expected_version)
    if opportunity.status == OpportunityStatus.OPEN:
        raise Conflict("The opportunity is already open.", code="opportunity_open")
    if request.stage_id is not None:
        stage = await _stage(session, request.stage_id)
        if stage.pipeline_id != opportunity.pipeline_id or stage.kind != StageKind.OPEN:
            raise Invalid("Choose an open stage of its pipeline.", field="stage_id", code="stage_closed")
    else:
        stage = await _stage(session, (await _last_open_stage(session, opportunity)).id)
    previous = opportunity.status
    await _enter(session, opportunity, stage, utcnow(), principal.user_id)
    opportunity.status = OpportunityStatus.OPEN
    opportunity.won_at = opportunity.lost_at = opportunity.lost_reason = None
    await session.flush()
    await record_event(
        session,
        OpportunityReopened(
            opportunity_id=opportunity.id,
            customer_id=opportunity.customer_id,
            from_status=previous,
            actor_id=principal.user_id,
        ),
    )
    return await view_of(session, opportunity, history=True)


async def _last_open_stage(session: AsyncSession, opportunity: Opportunity) -> Stage:
    """The open stage of its pipeline it was in last (else the pipeline's first open one)."""
    stage = await session.scalar(
        select(Stage)
        .join(StageVisit, (StageVisit.tenant_id == Stage.tenant_id) & (StageVisit.stage_id == Stage.id))
        .where(
            StageVisit.opportunity_id == opportunity.id,
            Stage.pipeline_id == opportunity.pipeline_id,
            Stage.kind == StageKind.OPEN,
        )
        .order_by(StageVisit.entered_at.desc(), StageVisit.id.desc())
        .limit(1)
    )
    return stage or await first_open_stage(session, opportunity.pipeline_id)


async def transfer_opportunity(
    session: AsyncSession,
    principal: Principal,
    opportunity_id: uuid.UUID,
    request: TransferRequest,
    *,
    expected_version: int | None = None,
) -> OpportunityView:
    """Give the opportunity to another active member within the caller's transfer scope."""
    opportunity = await _locked(session, principal, opportunity_id, TRANSFER, expected_version)
    target = await active_membership(
        session, principal, request.to_owner_id, TRANSFER, "to_owner_id", records="opportunities"
    )
    if opportunity.owner_id != target.user_id:
        previous = opportunity.owner_id
        opportunity.owner_id, opportunity.team_id = target.user_id, target.team_id
        await session.flush()
        await record_event(
            session,
            OpportunityTransferred(
                opportunity_id=opportunity.id,
                customer_id=opportunity.customer_id,
                from_owner_id=previous,
                to_owner_id=target.user_id,
                actor_id=principal.user_id,
            ),
        )
    return await view_of(session, opportunity)
