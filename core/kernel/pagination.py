"""One pagination shape for every list: keyset pages with an opaque cursor.

A list answers ``{"items": [...], "next_cursor": "..." | null}``. Clients pass ``limit``
(1..200) and the ``cursor`` of the previous page, and optionally ``sort`` as a field name,
prefixed with ``-`` for descending. Ids are UUIDv7, so ``id`` order is creation order and
breaks ties for every other sort key.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.kernel.errors import Invalid

__all__ = ["MAX_LIMIT", "Page", "PageRequest", "decode_cursor", "encode_cursor", "paginate"]

MAX_LIMIT = 200
T = TypeVar("T")


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What the client asked for. ``limit`` may arrive as text; :func:`paginate` checks it,
    so that building a ``PageRequest`` never fails."""

    limit: int | str | None = 50
    cursor: str | None = None
    sort: str | None = None

    def checked_limit(self) -> int:
        if self.limit is None or self.limit == "":
            return 50
        try:
            limit = int(self.limit)
        except ValueError:
            raise Invalid("limit must be a whole number.", field="limit", code="validation_failed") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise Invalid(f"limit must be between 1 and {MAX_LIMIT}.", field="limit", code="out_of_range")
        return limit


def encode_cursor(values: Sequence[Any]) -> str:
    """The opaque cursor for a page that ends at ``values`` (sort key, id)."""
    return base64.urlsafe_b64encode(msgspec.json.encode(values)).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    """The (sort key, id) a cursor of :func:`encode_cursor` holds; 422 for any other text."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = msgspec.json.decode(raw, type=list[Any])
    except (binascii.Error, msgspec.DecodeError, ValueError) as exc:
        raise Invalid(
            "The cursor is not one this API issued.", field="cursor", code="invalid_cursor"
        ) from exc
    if len(values) != 2:
        raise Invalid("The cursor is not one this API issued.", field="cursor", code="invalid_cursor")
    return values


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    id_column: InstrumentedAttribute[uuid.UUID],
    page: PageRequest,
    to_item: Callable[[Any], T],
    sortable: Mapping[str, InstrumentedAttribute[Any]] | None = None,
) -> Page[T]:
    """Run ``stmt`` (selecting one entity) one page at a time, ordered by ``page.sort``."""
    limit = page.checked_limit()
    sort_column, descending = _sort_column(page.sort, id_column, sortable or {})
    if page.cursor:
        after_value, after_id = decode_cursor(page.cursor)
        try:
            after_key = _coerce(sort_column, after_value)
            after_uuid = uuid.UUID(str(after_id))
        except (TypeError, ValueError) as exc:
            raise Invalid(
                "The cursor is not one this API issued.", field="cursor", code="invalid_cursor"
            ) from exc
        if sort_column is id_column:
            stmt = stmt.where(id_column < after_uuid if descending else id_column > after_uuid)
        elif descending:
            stmt = stmt.where(
                or_(sort_column < after_key, and_(sort_column == after_key, id_column < after_uuid))
            )
        else:
            stmt = stmt.where(
                or_(sort_column > after_key, and_(sort_column == after_key, id_column > after_uuid))
            )
    order = [sort_column.desc() if descending else sort_column.asc()]
    if sort_column is not id_column:
        order.append(id_column.desc() if descending else id_column.asc())
    rows = list((await session.scalars(stmt.order_by(*order).limit(limit + 1))).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(
            [_plain(getattr(last, sort_column.key)), str(getattr(last, id_column.key))]
        )
    return Page(items=[to_item(row) for row in rows], next_cursor=next_cursor)


def _sort_column(
    sort: str | None,
    id_column: InstrumentedAttribute[uuid.UUID],
    sortable: Mapping[str, InstrumentedAttribute[Any]],
) -> tuple[InstrumentedAttribute[Any], bool]:
    if not sort:
        return id_column, False
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name == "id":
        return id_column, descending
    if name not in sortable:
        allowed = ", ".join(sorted({"id", *sortable}))
        raise Invalid(
            f"Cannot sort by {name!r}; choose one of: {allowed}.", field="sort", code="invalid_sort"
        )
    return sortable[name], descending


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _coerce(column: InstrumentedAttribute[Any], value: Any) -> Any:
    python_type = column.type.python_type
    if python_type is datetime:
        return datetime.fromisoformat(str(value))
    if python_type is uuid.UUID:
        return uuid.UUID(str(value))
    return python_type(value)
