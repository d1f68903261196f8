"""Use cases of custom-field definitions: what tenant admins do, and what entity modules
read (:func:`definitions_for`) to validate, filter and sort values."""

from __future__ import annotations

import re
import uuid
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.customfields.entities import CustomFieldEntity, EntityRegistry
from core.customfields.models import CustomFieldDefinition
from core.customfields.query import PREFIX, sort_key
from core.customfields.schemas import (
    SELECT_TYPES,
    EntityView,
    FieldCreate,
    FieldUpdate,
    FieldView,
    Label,
    Option,
)
from core.kernel.concurrency import ensure_version
from core.kernel.errors import Conflict, Invalid, NotFound
from core.kernel.pagination import PageRequest, SortKeys

__all__ = [
    "MAX_FIELDS",
    "archive_field",
    "create_field",
    "custom_sort_keys",
    "definitions_for",
    "get_field",
    "list_entities",
    "list_fields",
    "update_field",
]

#: Active fields per entity type: forms stay usable, and a list fits one page.
MAX_FIELDS = 100
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def field_view(row: CustomFieldDefinition) -> FieldView:
    return FieldView(
        id=row.id,
        entity=row.entity,
        key=row.key,
        label=Label(zh=row.label_zh, en=row.label_en),
        type=row.type,  # type: ignore[arg-type]  # only FIELD_TYPES are ever stored
        required=row.required,
        options=[msgspec.convert(option, Option) for option in row.options],
        position=row.position,
        archived=row.archived,
        created_at=row.created_at,
        version=row.version,
    )


def list_entities(registry: EntityRegistry) -> list[EntityView]:
    return [EntityView(name=e.name, label=Label(zh=e.label_zh, en=e.label_en)) for e in registry]


async def definitions_for(session: AsyncSession, entity: str) -> list[FieldView]:
    """Every field of ``entity`` in the current tenant, archived ones included, in form
    order: what ``validate``, ``filter_clauses`` and ``order_by`` take."""
    rows = await session.scalars(
        select(CustomFieldDefinition)
        .where(CustomFieldDefinition.entity == entity)
        .order_by(CustomFieldDefinition.position, CustomFieldDefinition.key)
    )
    return [field_view(row) for row in rows]


async def custom_sort_keys(
    session: AsyncSession, entity: str, column: InstrumentedAttribute[Any], page: PageRequest
) -> SortKeys:
    """What lets ``paginate`` sort ``entity``'s list by ``cf.<key>`` (the JSON ``column``);
    the definitions are read only when the page asks for such a sort."""
    sort = (page.sort or "").lstrip("-")
    definitions = await definitions_for(session, entity) if sort.startswith(PREFIX) else []
    return lambda name: sort_key(definitions, column, name)


async def list_fields(
    session: AsyncSession, registry: EntityRegistry, entity: str, *, include_archived: bool = False
) -> list[FieldView]:
    registry.get(entity)
    fields = await definitions_for(session, entity)
    return [f for f in fields if include_archived or not f.archived]


async def _row(
    session: AsyncSession, registry: EntityRegistry, entity: str, field_id: uuid.UUID, *, lock: bool = False
) -> CustomFieldDefinition:
    registry.get(entity)
    stmt = select(CustomFieldDefinition).where(
        CustomFieldDefinition.id == field_id, CustomFieldDefinition.entity == entity
    )
    row = await session.scalar(stmt.with_for_update() if lock else stmt)
    if row is None:
        raise NotFound()
    return row


async def get_field(
    session: AsyncSession, registry: EntityRegistry, entity: str, field_id: uuid.UUID
) -> FieldView:
    return field_view(await _row(session, registry, entity, field_id))


def _label(label: Label) -> Label:
    zh, en = label.zh.strip(), label.en.strip()
    if not (zh or en):
        raise Invalid("Give the field a label in Chinese or English.", field="label", code="required")
    if len(zh) > 120 or len(en) > 120:
        raise Invalid("A label is at most 120 characters.", field="label", code="invalid_length")
    return Label(zh=zh or en, en=en or zh)


def _options(field_type: str, options: list[Option], previous: list[Option]) -> list[Option]:
    if field_type not in SELECT_TYPES:
        if options:
            raise Invalid("Only select fields have options.", field="options", code="options_not_allowed")
        return []
    cleaned: list[Option] = []
    for index, option in enumerate(options):
        if not _KEY.match(option.key):
            raise Invalid(
                "An option key is a slug: a-z, 0-9 and _, starting with a letter, at most 40.",
                field=f"options.{index}.key",
                code="invalid_key",
            )
        if option.key in {o.key for o in cleaned}:
            raise Invalid(
                f"Option {option.key!r} is listed twice.", field=f"options.{index}.key", code="duplicate"
            )
        cleaned.append(Option(key=option.key, label=_label(option.label), archived=option.archived))
    removed = [o.key for o in previous if o.key not in {c.key for c in cleaned}]
    if removed:
        raise Invalid(
            f"Options {', '.join(removed)} may be on records: archive them instead of removing them.",
            field="options",
            code="option_removed",
        )
    if not any(not o.archived for o in cleaned):
        raise Invalid("A select field needs at least one option.", field="options", code="required")
    return cleaned


async def create_field(
    session: AsyncSession, registry: EntityRegistry, entity: str, command: FieldCreate
) -> FieldView:
    registry.get(entity)
    if not _KEY.match(command.key):
        raise Invalid(
            "The key is a slug: a-z, 0-9 and _, starting with a letter, at most 40 characters.",
            field="key",
            code="invalid_key",
        )
    label = _label(command.label)
    options = _options(command.type, command.options, [])
    taken = await session.scalar(
        select(CustomFieldDefinition.id).where(
            CustomFieldDefinition.entity == entity, CustomFieldDefinition.key == command.key
        )
    )
    if taken is not None:
        raise Conflict(
            f"The key {command.key!r} is taken (perhaps by an archived field).", field="key", code="key_taken"
        )
    active = await session.scalar(
        select(func.count()).where(
            CustomFieldDefinition.entity == entity, CustomFieldDefinition.archived.is_(False)
        )
    )
    if (active or 0) >= MAX_FIELDS:
        raise Conflict(f"An entity has at most {MAX_FIELDS} active custom fields.", code="too_many_fields")
    position = command.position
    if position is None:
        last = await session.scalar(
            select(func.max(CustomFieldDefinition.position)).where(CustomFieldDefinition.entity == entity)
        )
        position = 0 if last is None else last + 1
    row = CustomFieldDefinition(
        entity=entity,
        key=command.key,
        label_zh=label.zh,
        label_en=label.en,
        type=command.type,
        required=command.required,
        options=msgspec.to_builtins(options),
        position=position,
        archived=False,
    )
    session.add(row)
    await session.flush()
    return field_view(row)


async def _ensure_type_may_change(
    session: AsyncSession, entity: CustomFieldEntity, row: CustomFieldDefinition, new_type: str
) -> None:
    if new_type == row.type or entity.values_exist is None:
        return
    if await entity.values_exist(session, row.key):
        raise Conflict(
            f"Records hold values of {row.key!r} as {row.type}: its type cannot change. "
            "Archive it and add a new field instead.",
            field="type",
            code="type_change_refused",
        )


async def update_field(
    session: AsyncSession,
    registry: EntityRegistry,
    entity: str,
    field_id: uuid.UUID,
    change: FieldUpdate,
    *,
    expected_version: int | None = None,
) -> FieldView:
    row = await _row(session, registry, entity, field_id, lock=True)
    ensure_version(row, expected_version)
    current = field_view(row)
    new_type = current.type if isinstance(change.type, msgspec.UnsetType) else change.type
    await _ensure_type_may_change(session, registry.get(entity), row, new_type)
    options = current.options if isinstance(change.options, msgspec.UnsetType) else change.options
    if new_type not in SELECT_TYPES and isinstance(change.options, msgspec.UnsetType):
        options = []
    cleaned = _options(new_type, options, current.options if new_type in SELECT_TYPES else [])
    if not isinstance(change.label, msgspec.UnsetType):
        label = _label(change.label)
        row.label_zh, row.label_en = label.zh, label.en
    row.type = new_type
    row.options = msgspec.to_builtins(cleaned)
    if not isinstance(change.required, msgspec.UnsetType):
        row.required = change.required
    if not isinstance(change.position, msgspec.UnsetType):
        row.position = change.position
    if not isinstance(change.archived, msgspec.UnsetType):
        row.archived = change.archived
    await session.flush()
    return field_view(row)


async def archive_field(
    session: AsyncSession,
    registry: EntityRegistry,
    entity: str,
    field_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> None:
    """ "Delete" a field: it is archived, so the values records hold stay readable and its key
    is never reused for something else. ``archived: false`` brings it back."""
    row = await _row(session, registry, entity, field_id, lock=True)
    ensure_version(row, expected_version)
    if not row.archived:
        row.archived = True
        await session.flush()
