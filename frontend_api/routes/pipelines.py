"""Sales pipelines and their stages. A pipeline's ETag covers its stages: every stage change
takes the pipeline's ``If-Match`` and answers the whole pipeline with its new ETag."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from core.kernel.pagination import Page
from core.sales import service
from core.sales.schemas import (
    PipelineCreate,
    PipelineUpdate,
    PipelineView,
    StageCreate,
    StageOrder,
    StageUpdate,
)
from frontend_api.deps import PageDep, SessionDep
from frontend_api.etags import IfMatchDep, etagged

__all__ = ["PipelineController"]

PipelineId = FromPath[uuid.UUID]


class PipelineController(Controller):
    path = "/api/v1/pipelines"
    tags = ["sales"]

    @get("/", permission="pipelines.read", summary="List pipelines with their stages")
    async def list_pipelines(
        self, session: SessionDep, page: PageDep, archived: FromQuery[bool] = False
    ) -> Page[PipelineView]:
        return await service.list_pipelines(session, page, include_archived=archived)

    @get("/{pipeline_id:uuid}", permission="pipelines.read", summary="Show a pipeline with its stages")
    async def show(self, session: SessionDep, pipeline_id: PipelineId) -> Response[PipelineView]:
        return etagged(await service.get_pipeline(session, pipeline_id))

    @post("/", permission="pipelines.manage", summary="Create a pipeline")
    async def create(self, session: SessionDep, data: JSONBody[PipelineCreate]) -> Response[PipelineView]:
        return etagged(await service.create_pipeline(session, data), status_code=201)

    @patch("/{pipeline_id:uuid}", permission="pipelines.manage", summary="Rename a pipeline")
    async def update(
        self,
        session: SessionDep,
        pipeline_id: PipelineId,
        data: JSONBody[PipelineUpdate],
        if_match: IfMatchDep,
    ) -> Response[PipelineView]:
        view = await service.update_pipeline(session, pipeline_id, data, expected_version=if_match.version())
        return etagged(view)

    @post(
        "/{pipeline_id:uuid}/default",
        permission="pipelines.manage",
        summary="Make a pipeline the default one (the former default stops being it)",
        status_code=200,
    )
    async def make_default(
        self, session: SessionDep, pipeline_id: PipelineId, if_match: IfMatchDep
    ) -> Response[PipelineView]:
        view = await service.set_default_pipeline(session, pipeline_id, expected_version=if_match.version())
        return etagged(view)

    @post(
        "/{pipeline_id:uuid}/archive",
        permission="pipelines.manage",
        summary="Archive a pipeline (not the default one)",
        status_code=200,
    )
    async def archive(
        self, session: SessionDep, pipeline_id: PipelineId, if_match: IfMatchDep
    ) -> Response[PipelineView]:
        view = await service.archive_pipeline(session, pipeline_id, expected_version=if_match.version())
        return etagged(view)

    @post("/{pipeline_id:uuid}/stages", permission="pipelines.manage", summary="Add an open stage")
    async def add_stage(
        self, session: SessionDep, pipeline_id: PipelineId, data: JSONBody[StageCreate], if_match: IfMatchDep
    ) -> Response[PipelineView]:
        view = await service.add_stage(session, pipeline_id, data, expected_version=if_match.version())
        return etagged(view, status_code=201)

    @put(
        "/{pipeline_id:uuid}/stages/order",
        permission="pipelines.manage",
        summary="Reorder the stages (the full list of stage ids, in the new order)",
    )
    async def reorder(
        self, session: SessionDep, pipeline_id: PipelineId, data: JSONBody[StageOrder], if_match: IfMatchDep
    ) -> Response[PipelineView]:
        view = await service.reorder_stages(session, pipeline_id, data, expected_version=if_match.version())
        return etagged(view)

    @patch(
        "/{pipeline_id:uuid}/stages/{stage_id:uuid}",
        permission="pipelines.manage",
        summary="Rename a stage or change its probability or rotting days",
    )
    async def update_stage(
        self,
        session: SessionDep,
        pipeline_id: PipelineId,
        stage_id: FromPath[uuid.UUID],
        data: JSONBody[StageUpdate],
        if_match: IfMatchDep,
    ) -> Response[PipelineView]:
        view = await service.update_stage(
            session, pipeline_id, stage_id, data, expected_version=if_match.version()
        )
        return etagged(view)

    @delete(
        "/{pipeline_id:uuid}/stages/{stage_id:uuid}",
        permission="pipelines.manage",
        summary="Remove a stage (not the won or lost one, nor the last open one)",
        status_code=200,
    )
    async def remove_stage(
        self,
        session: SessionDep,
        pipeline_id: PipelineId,
        stage_id: FromPath[uuid.UUID],
        if_match: IfMatchDep,
    ) -> Response[PipelineView]:
        view = await service.remove_stage(session, pipeline_id, stage_id, expected_version=if_match.version())
        return etagged(view)
