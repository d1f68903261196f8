"""Commands and read models of custom-field definitions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, get_args

import msgspec

__all__ = [
    "FIELD_TYPES",
    "SELECT_TYPES",
    "EntityView",
    "FieldCreate",
    "FieldType",
    "FieldUpdate",
    "FieldView",
    "Label",
    "Option",
]

FieldType = Literal["text", "number", "money", "date", "single_select", "multi_select", "boolean"]
FIELD_TYPES: tuple[str, ...] = get_args(FieldType)
SELECT_TYPES = ("single_select", "multi_select")
Position = Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]


class Label(msgspec.Struct, forbid_unknown_fields=True):
    """A label in both languages of the product; one of them may be empty."""

    zh: str = msgspec.field(default="", name="zh-CN")
    en: str = ""


class Option(msgspec.Struct, forbid_unknown_fields=True):
    """A choice of a select. Its ``key`` is what values store: it never changes."""

    key: str
    label: Label
    #: An archived option stays on old records but can no longer be chosen.
    archived: bool = False


class EntityView(msgspec.Struct):
    name: str
    label: Label


class FieldView(msgspec.Struct):
    id: uuid.UUID
    entity: str
    key: str
    label: Label
    type: FieldType
    required: bool
    options: list[Option]
    position: int
    archived: bool
    created_at: datetime
    version: int


class FieldCreate(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    label: Label
    type: FieldType
    required: bool = False
    options: Annotated[list[Option], msgspec.Meta(max_length=500)] = msgspec.field(default_factory=list)
    #: Where the field shows in forms; after the last one when omitted.
    position: Position | None = None


class FieldUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Every attribute but ``key`` and ``entity`` may change. ``options`` is the whole new
    list: options can be added, relabelled, reordered and archived, never removed."""

    label: Label | msgspec.UnsetType = msgspec.UNSET
    type: FieldType | msgspec.UnsetType = msgspec.UNSET
    required: bool | msgspec.UnsetType = msgspec.UNSET
    options: Annotated[list[Option], msgspec.Meta(max_length=500)] | msgspec.UnsetType = msgspec.UNSET
    position: Position | msgspec.UnsetType = msgspec.UNSET
    archived: bool | msgspec.UnsetType = msgspec.UNSET
