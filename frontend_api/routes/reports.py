"""Sales reports: the thin HTTP adapter over ``core/sales/reports.py``."""

from __future__ import annotations

import uuid
from datetime import date

from litestar import Controller, get
from litestar.params import FromQuery

from core.sales import reports
from core.sales.schemas import ForecastView, FunnelView, WinRateView
from frontend_api.deps import PrincipalDep, SessionDep

__all__ = ["ReportController"]


class ReportController(Controller):
    path = "/api/v1/reports"
    tags = ["reports"]

    @get("/forecast", permission="opportunities.read", summary="Weighted forecast by month, owner and team")
    async def forecast(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        pipeline_id: FromQuery[uuid.UUID | None] = None,
        close_from: FromQuery[date | None] = None,
        close_to: FromQuery[date | None] = None,
    ) -> ForecastView:
        return await reports.forecast(
            session, principal, pipeline_id=pipeline_id, close_from=close_from, close_to=close_to
        )

    @get("/funnel", permission="opportunities.read", summary="How far a pipeline's opportunities got")
    async def funnel(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        pipeline_id: FromQuery[uuid.UUID],
        created_from: FromQuery[date | None] = None,
        created_to: FromQuery[date | None] = None,
    ) -> FunnelView:
        return await reports.funnel(
            session, principal, pipeline_id, created_from=created_from, created_to=created_to
        )

    @get("/win-rate", permission="opportunities.read", summary="Won over closed, by source and owner")
    async def win_rate(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        pipeline_id: FromQuery[uuid.UUID | None] = None,
        closed_from: FromQuery[date | None] = None,
        closed_to: FromQuery[date | None] = None,
    ) -> WinRateView:
        return await reports.win_rates(
            session, principal, pipeline_id=pipeline_id, closed_from=closed_from, closed_to=closed_to
        )
