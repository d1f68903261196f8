"""Opportunities and the pipeline board: the thin HTTP adapter over ``core/sales``."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from core.kernel.pagination import Page
from core.sales import board, moves, opportunities
from core.sales.schemas import (
    BoardView,
    LostRequest,
    OpportunityCreate,
    OpportunityUpdate,
    OpportunityView,
    ReopenRequest,
    StageMove,
    TransferRequest,
    WonRequest,
)
from frontend_api.deps import PageDep, PrincipalDep, SessionDep
from frontend_api.etags import IfMatchDep, etagged
from frontend_api.filters import OpportunityFilterDep, opportunity_filters

__all__ = ["BoardController", "OpportunityController"]

OpportunityId = FromPath[uuid.UUID]


class OpportunityController(Controller):
    path = "/api/v1/opportunities"
    tags = ["opportunities"]

    @get(
        "/",
        permission="opportunities.read",
        summary="List and search opportunities",
        dependencies=opportunity_filters,
    )
    async def list_opportunities(
        self, session: SessionDep, principal: PrincipalDep, page: PageDep, filters: OpportunityFilterDep
    ) -> Page[OpportunityView]:
        return await opportunities.list_opportunities(session, principal, page, filters)

    @post("/", permission="opportunities.create", summary="Add an opportunity")
    async def create(
        self, session: SessionDep, principal: PrincipalDep, data: JSONBody[OpportunityCreate]
    ) -> Response[OpportunityView]:
        return etagged(await opportunities.create_opportunity(session, principal, data), status_code=201)

    @get(
        "/{opportunity_id:uuid}",
        permission="opportunities.read",
        summary="Show an opportunity and its stage history",
    )
    async def show(
        self, session: SessionDep, principal: PrincipalDep, opportunity_id: OpportunityId
    ) -> Response[OpportunityView]:
        return etagged(await opportunities.get_opportunity(session, principal, opportunity_id))

    @patch("/{opportunity_id:uuid}", permission="opportunities.update", summary="Change an opportunity")
    async def update(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        opportunity_id: OpportunityId,
        data: JSONBody[OpportunityUpdate],
        if_match: IfMatchDep,
    ) -> Response[OpportunityView]:
        view = await opportunities.update_opportunity(
            session, principal, opportunity_id, data, expected_version=if_match.version()
        )
        return etagged(view)

    @delete("/{opportunity_id:uuid}", permission="opportunities.delete", summary="Delete an opportunity")
    async def remove(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        opportunity_id: OpportunityId,
        if_match: IfMatchDep,
    ) -> None:
        await opportunities.delete_opportunity(
            session, principal, opportunity_id, expected_version=if_match.version()
        )

    @post(
        "/{opportunity_id:uuid}/stage",
        permission="opportunities.update",
        status_code=200,
        summary="Move an opportunity to another stage",
    )
    async def move(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        opportunity_id: OpportunityId,
        data: JSONBody[StageMove],
        if_match: IfMatchDep,
    ) -> Response[OpportunityView]:
        view = await moves.move_stage(
            session, principal, opportunity_id, data, expected_version=if_match.version()
        )
        return etagged(view)

    @post(
        "/{opportunity_id:uuid}/won", permission="opportunities.close", status_code=200, summary="Mark it won"
    )
    async def won(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        opportunity_id: OpportunityId,
        data: JSONBody[WonRequest],
        if_match: IfMatchDep,
    ) -> Response[OpportunityView]:
        view = await moves.win_opportunity(
            session, principal, opportunity_id, data, expected_version=if_match.version()
        )
        return etagged(view)

    @post(
        "/{opportunity_id:uuid}/lost",
        permission="opportunities.close",
        status_code=200,
        summary="Mark it lost, with the reason",
    )
    async def lost(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        opportunity_id: OpportunityId,
        data: JSONBody[LostRequest],
        if_match: IfMatchDep,
    ) -> Response[OpportunityView]:
        view = await moves.lose_opportunity(
            session, principal, opportunity_id, data, expected_version=if_match.version()
        )
        return etagged(view)

    @post(
        "/{opportunity_id:uuid}/reopen",
        permission="opportunities.reopen",
        status_code=200,
        summary="Reopen a won or lost opportunity",
    )
    async def reopen(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        opportunity_id: OpportunityId,
        data: JSONBody[ReopenRequest],
        if_match: IfMatchDep,
    ) -> Response[OpportunityView]:
        view = await moves.reopen_opportunity(
            session, principal, opportunity_id, data, expected_version=if_match.version()
        )
        return etagged(view)

    @post(
        "/{opportunity_id:uuid}/transfer",
        permission="opportunities.transfer",
        status_code=200,
        summary="Give an opportunity to another owner",
    )
    async def transfer(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        opportunity_id: OpportunityId,
        data: JSONBody[TransferRequest],
        if_match: IfMatchDep,
    ) -> Response[OpportunityView]:
        view = await moves.transfer_opportunity(
            session, principal, opportunity_id, data, expected_version=if_match.version()
        )
        return etagged(view)


class BoardController(Controller):
    path = "/api/v1/pipelines"
    tags = ["opportunities"]

    @get(
        "/{pipeline_id:uuid}/board",
        permission="opportunities.read",
        summary="The pipeline board: open stages with their opportunities and sums",
    )
    async def show_board(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        pipeline_id: FromPath[uuid.UUID],
        per_stage: FromQuery[int] = 20,
    ) -> BoardView:
        return await board.pipeline_board(session, principal, pipeline_id, per_stage)
