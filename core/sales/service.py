"""Pipelines: the use cases. Each public function is one transaction's worth of work.

A pipeline and its stages are one resource: every change to a stage bumps the pipeline's
version, and every change takes the pipeline's ``expected_version`` (its ``If-Match``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import msgspec
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.kernel.clock import utcnow
from core.kernel.concurrency import ensure_version, touch
from core.kernel.errors import Conflict, Invalid, NotFound
from core.kernel.pagination import Page, PageRequest, paginate
from core.sales.models import Pipeline, Stage, StageKind
from core.sales.rules import check_layout, clean_stage_name, stages_in_use
from core.sales.schemas import (
    PipelineCreate,
    PipelineUpdate,
    PipelineView,
    StageCreate,
    StageOrder,
    StageUpdate,
    StageView,
)
from core.sales.templates import default_pipeline_name, default_stages

__all__ = [
    "add_stage",
    "archive_pipeline",
    "create_pipeline",
    "get_pipeline",
    "list_pipelines",
    "pipeline_view",
    "remove_stage",
    "reorder_stages",
    "seed_default_pipeline",
    "set_default_pipeline",
    "update_pipeline",
    "update_stage",
]


def stage_view(stage: Stage) -> StageView:
    return StageView(
        id=stage.id,
        name=stage.name,
        position=stage.position,
        probability=stage.probability,
        kind=stage.kind,
        rotting_days=stage.rotting_days,
    )


def pipeline_view(pipeline: Pipeline) -> PipelineView:
    return PipelineView(
        id=pipeline.id,
        name=pipeline.name,
        is_default=pipeline.is_default,
        archived_at=pipeline.archived_at,
        created_at=pipeline.created_at,
        stages=[stage_view(s) for s in sorted(pipeline.stages, key=lambda s: s.position)],
        version=pipeline.version,
    )


def _with_stages() -> Select[Pipeline]:
    return select(Pipeline).options(selectinload(Pipeline.stages))


async def _pipeline(session: AsyncSession, pipeline_id: uuid.UUID, *, lock: bool = False) -> Pipeline:
    """The one access path: another tenant's id is as missing as an unknown one."""
    stmt = _with_stages().where(Pipeline.id == pipeline_id)
    if lock:
        stmt = stmt.with_for_update(of=Pipeline).execution_options(populate_existing=True)
    pipeline = await session.scalar(stmt)
    if pipeline is None:
        raise NotFound()
    return pipeline


async def _editable(session: AsyncSession, pipeline_id: uuid.UUID, expected_version: int | None) -> Pipeline:
    pipeline = await _pipeline(session, pipeline_id, lock=True)
    ensure_version(pipeline, expected_version)
    if pipeline.archived_at is not None:
        raise Conflict("The pipeline is archived; it cannot change.", code="pipeline_archived")
    return pipeline


async def _clean_pipeline_name(session: AsyncSession, name: str, pipeline_id: uuid.UUID | None = None) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 120:
        raise Invalid("Pipeline name must be 1 to 120 characters.", field="name", code="invalid_length")
    stmt = select(Pipeline.id).where(
        func.lower(Pipeline.name) == name.lower(), Pipeline.archived_at.is_(None)
    )
    if pipeline_id is not None:
        stmt = stmt.where(Pipeline.id != pipeline_id)
    if await session.scalar(stmt) is not None:
        raise Conflict("A pipeline with this name already exists.", field="name", code="name_taken")
    return name


def _new_stages(commands: Sequence[StageCreate]) -> list[Stage]:
    for index, command in enumerate(commands):
        if command.kind not in StageKind.ALL:
            raise Invalid(
                f"Stage kind must be one of {', '.join(StageKind.ALL)}.",
                field=f"stages[{index}].kind",
                code="invalid_choice",
            )
    check_layout([(c.kind, c.probability) for c in commands], field="stages")
    names = [clean_stage_name(c.name, field=f"stages[{i}].name") for i, c in enumerate(commands)]
    for index, name in enumerate(names):
        if name.lower() in {n.lower() for n in names[:index]}:
            raise Invalid("Two stages have this name.", field=f"stages[{index}].name", code="duplicate_name")
    return [
        Stage(name=name, position=i, probability=c.probability, kind=c.kind, rotting_days=c.rotting_days)
        for i, (name, c) in enumerate(zip(names, commands, strict=True), start=1)
    ]


async def _create(session: AsyncSession, name: str, stages: list[Stage], *, is_default: bool) -> Pipeline:
    pipeline = Pipeline(name=name, is_default=is_default, stages=stages)
    session.add(pipeline)
    await session.flush()
    return pipeline


async def seed_default_pipeline(session: AsyncSession, locale: str) -> PipelineView:
    """The standard pipeline of a new tenant, its default; run inside the signup transaction."""
    pipeline = await _create(
        session, default_pipeline_name(locale), _new_stages(default_stages(locale)), is_default=True
    )
    return pipeline_view(pipeline)


async def list_pipelines(
    session: AsyncSession, page: PageRequest, *, include_archived: bool = False
) -> Page[PipelineView]:
    stmt = _with_stages()
    if not include_archived:
        stmt = stmt.where(Pipeline.archived_at.is_(None))
    return await paginate(session, stmt, Pipeline.id, page, pipeline_view, sortable={"name": Pipeline.name})


async def get_pipeline(session: AsyncSession, pipeline_id: uuid.UUID) -> PipelineView:
    return pipeline_view(await _pipeline(session, pipeline_id))


async def create_pipeline(session: AsyncSession, command: PipelineCreate) -> PipelineView:
    """A new pipeline; the tenant's first one (if it has none left) becomes the default."""
    name = await _clean_pipeline_name(session, command.name)
    stages = _new_stages(command.stages if command.stages is not None else default_stages(command.locale))
    has_default = await session.scalar(select(Pipeline.id).where(Pipeline.is_default.is_(True)))
    return pipeline_view(await _create(session, name, stages, is_default=has_default is None))


async def update_pipeline(
    session: AsyncSession,
    pipeline_id: uuid.UUID,
    change: PipelineUpdate,
    *,
    expected_version: int | None = None,
) -> PipelineView:
    pipeline = await _editable(session, pipeline_id, expected_version)
    if not isinstance(change.name, msgspec.UnsetType):
        pipeline.name = await _clean_pipeline_name(session, change.name, pipeline.id)
    await session.flush()
    return pipeline_view(pipeline)


async def set_default_pipeline(
    session: AsyncSession, pipeline_id: uuid.UUID, *, expected_version: int | None = None
) -> PipelineView:
    """Make ``pipeline_id`` the default, in one swap with the former default.

    Every pipeline of the tenant is locked first, in id order, so two concurrent swaps
    queue up rather than deadlock, and the second sees the first one's result.
    """
    locked = (
        await session.scalars(
            select(Pipeline).order_by(Pipeline.id).with_for_update().execution_options(populate_existing=True)
        )
    ).all()
    target = next((p for p in locked if p.id == pipeline_id), None)
    if target is None:
        raise NotFound()
    pipeline = await _editable(session, pipeline_id, expected_version)
    for other in locked:
        if other.is_default and other is not pipeline:
            other.is_default = False
    # The former default is cleared before the new one is set: the unique index is checked
    # statement by statement.
    await session.flush()
    pipeline.is_default = True
    await session.flush()
    return pipeline_view(pipeline)


async def archive_pipeline(
    session: AsyncSession, pipeline_id: uuid.UUID, *, expected_version: int | None = None
) -> PipelineView:
    pipeline = await _editable(session, pipeline_id, expected_version)
    if pipeline.is_default:
        raise Conflict(
            "The default pipeline cannot be archived; make another pipeline the default first.",
            code="default_pipeline",
        )
    pipeline.archived_at = utcnow()
    await session.flush()
    return pipeline_view(pipeline)


def _ordered(pipeline: Pipeline) -> list[Stage]:
    return sorted(pipeline.stages, key=lambda s: s.position)


def _renumber(stages: Sequence[Stage]) -> None:
    for position, stage in enumerate(stages, start=1):
        if stage.position != position:
            stage.position = position


def _stage_of(pipeline: Pipeline, stage_id: uuid.UUID) -> Stage:
    stage = next((s for s in pipeline.stages if s.id == stage_id), None)
    if stage is None:
        raise NotFound()
    return stage


def _ensure_unique_stage_name(pipeline: Pipeline, name: str, stage: Stage | None = None) -> None:
    if any(s.name.lower() == name.lower() for s in pipeline.stages if s is not stage):
        raise Conflict("The pipeline already has a stage with this name.", field="name", code="name_taken")


async def add_stage(
    session: AsyncSession,
    pipeline_id: uuid.UUID,
    command: StageCreate,
    *,
    expected_version: int | None = None,
) -> PipelineView:
    """Insert an open stage (last among the open ones unless ``position`` says otherwise)."""
    pipeline = await _editable(session, pipeline_id, expected_version)
    if command.kind not in StageKind.ALL:
        raise Invalid(
            f"Stage kind must be one of {', '.join(StageKind.ALL)}.", field="kind", code="invalid_choice"
        )
    stages = _ordered(pipeline)
    name = clean_stage_name(command.name, field="name")
    _ensure_unique_stage_name(pipeline, name)
    open_count = sum(1 for s in stages if s.kind == StageKind.OPEN)
    position = open_count + 1 if command.position is None else command.position
    if not 1 <= position <= open_count + 1:
        raise Invalid(
            f"An open stage goes at a position from 1 to {open_count + 1}, before the won and lost stages.",
            field="position",
            code="out_of_range",
        )
    kinds = [(s.kind, s.probability) for s in stages]
    kinds.insert(position - 1, (command.kind, command.probability))
    check_layout(kinds, field="kind")
    stage = Stage(
        name=name,
        position=0,
        probability=command.probability,
        kind=command.kind,
        rotting_days=command.rotting_days,
    )
    pipeline.stages.append(stage)
    stages.insert(position - 1, stage)
    _renumber(stages)
    touch(pipeline)
    await session.flush()
    return pipeline_view(pipeline)


async def update_stage(
    session: AsyncSession,
    pipeline_id: uuid.UUID,
    stage_id: uuid.UUID,
    change: StageUpdate,
    *,
    expected_version: int | None = None,
) -> PipelineView:
    pipeline = await _editable(session, pipeline_id, expected_version)
    stage = _stage_of(pipeline, stage_id)
    if not isinstance(change.name, msgspec.UnsetType):
        name = clean_stage_name(change.name, field="name")
        _ensure_unique_stage_name(pipeline, name, stage)
        stage.name = name
    if not isinstance(change.probability, msgspec.UnsetType):
        check_layout(
            [(s.kind, change.probability if s is stage else s.probability) for s in _ordered(pipeline)],
            field="probability",
        )
        stage.probability = change.probability
    if not isinstance(change.rotting_days, msgspec.UnsetType):
        stage.rotting_days = change.rotting_days
    touch(pipeline)
    await session.flush()
    return pipeline_view(pipeline)


async def reorder_stages(
    session: AsyncSession, pipeline_id: uuid.UUID, order: StageOrder, *, expected_version: int | None = None
) -> PipelineView:
    """Put every stage at its place in ``order.stage_ids``: the full list, each stage once."""
    pipeline = await _editable(session, pipeline_id, expected_version)
    by_id = {s.id: s for s in pipeline.stages}
    if len(set(order.stage_ids)) != len(order.stage_ids):
        raise Invalid("A stage is listed twice.", field="stage_ids", code="duplicate_stage")
    unknown = [str(i) for i in order.stage_ids if i not in by_id]
    if unknown:
        raise Invalid(
            f"Not a stage of this pipeline: {', '.join(unknown)}.", field="stage_ids", code="unknown_stage"
        )
    if len(order.stage_ids) != len(by_id):
        raise Invalid(
            "List every stage of the pipeline, each once, in the new order.",
            field="stage_ids",
            code="incomplete_order",
        )
    stages = [by_id[i] for i in order.stage_ids]
    check_layout([(s.kind, s.probability) for s in stages], field="stage_ids")
    _renumber(stages)
    touch(pipeline)
    await session.flush()
    return pipeline_view(pipeline)


async def remove_stage(
    session: AsyncSession, pipeline_id: uuid.UUID, stage_id: uuid.UUID, *, expected_version: int | None = None
) -> PipelineView:
    pipeline = await _editable(session, pipeline_id, expected_version)
    stage = _stage_of(pipeline, stage_id)
    remaining = [s for s in _ordered(pipeline) if s is not stage]
    check_layout([(s.kind, s.probability) for s in remaining], field="stage_id", status=Conflict)
    if await stages_in_use(session, [stage.id]):
        raise Conflict(
            "Opportunities sit in this stage; move them to another stage first.", code="stage_in_use"
        )
    pipeline.stages.remove(stage)
    await session.delete(stage)  # explicitly, so the audit sees it (an orphan is found only in the flush)
    _renumber(remaining)
    touch(pipeline)
    await session.flush()
    return pipeline_view(pipeline)
