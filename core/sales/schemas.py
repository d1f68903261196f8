"""Commands and read models of the sales domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

__all__ = [
    "PipelineCreate",
    "PipelineUpdate",
    "PipelineView",
    "StageCreate",
    "StageOrder",
    "StageUpdate",
    "StageView",
]

Percent = Annotated[int, msgspec.Meta(ge=0, le=100, description="Win probability in percent")]
RottingDays = Annotated[int, msgspec.Meta(ge=1, le=3650)]


class StageView(msgspec.Struct):
    id: uuid.UUID
    name: str
    position: int
    probability: int
    kind: str
    rotting_days: int | None


class PipelineView(msgspec.Struct):
    id: uuid.UUID
    name: str
    is_default: bool
    archived_at: datetime | None
    created_at: datetime
    #: Ordered: open stages first, then the won and the lost stage.
    stages: list[StageView]
    #: The ETag of the pipeline, stages included.
    version: int


class StageCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(examples=["方案报价", "Proposal"])]
    probability: Percent
    #: ``open``, ``won`` or ``lost``. A new pipeline takes exactly one won and one lost stage;
    #: a stage added to an existing pipeline is always open.
    kind: str = "open"
    rotting_days: RottingDays | None = None
    #: Where to insert an open stage (1-based, among the open stages); last open if omitted.
    position: int | None = None


class StageUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    probability: Percent | msgspec.UnsetType = msgspec.UNSET
    rotting_days: RottingDays | msgspec.UnsetType | None = msgspec.UNSET


class StageOrder(msgspec.Struct, forbid_unknown_fields=True):
    #: Every stage of the pipeline, once, in the new order (open ones first, won and lost last).
    stage_ids: list[uuid.UUID]


class PipelineCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(examples=["大客户销售", "Enterprise sales"])]
    #: The stages in order. Omitted: the standard stages in ``locale``.
    stages: list[StageCreate] | None = None
    #: Language of the standard stages when ``stages`` is omitted (``zh-CN`` or ``en``).
    locale: str = "zh-CN"


class PipelineUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
