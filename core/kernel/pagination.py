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
from typing import Any, Generic, TypeVar, cast

import msgspec
from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.kernel.errors import Invalid

__all__ = [
    "MAX_LIMIT",
    "Page",
    "PageRequest",
    "SortKey",
    "SortKeys",
    "decode_cursor",
    "encode_cursor",
    "paginate",
]

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


@dataclass(frozen=True, slots=True)
class SortKey:
    """What a list can sort on besides its mapped columns (a custom field's value): the SQL
    expression, the row's value for the cursor (JSON-able), and that value read back from a
    cursor as a bind parameter. Rows without a value come last in either direction."""

    expression: ColumnElement[Any]
    value_of: Callable[[Any], Any]
    from_cursor: Callable[[Any], Any]
    nullable: bool = True


#: ``sort`` without its ``-`` → the key, or None when it names none (``cf.<key>`` sorts).
SortKeys = Callable[[str], SortKey | None]


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    id_column: InstrumentedAttribute[uuid.UUID],
    page: PageRequest,
    to_item: Callable[[Any], T],
    sortable: Mapping[str, InstrumentedAttribute[Any]] | None = None,
    sort_keys: SortKeys | None = None,
) -> Page[T]:
    """Run ``stmt`` (selecting one entity) one page at a time, ordered by ``page.sort``
    (a name of ``sortable``, one ``sort_keys`` knows, or ``id``), the id breaking ties."""
    limit = page.checked_limit()
    key, descending = _sort_key(page.sort, sortable or {}, sort_keys)
    if page.cursor:
        after_value, after_id = decode_cursor(page.cursor)
        try:
            after_key = None if key is None or after_value is None else key.from_cursor(after_value)
            after_uuid = uuid.UUID(str(after_id))
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise Invalid(
                "The cursor is not one this API issued.", field="cursor", code="invalid_cursor"
            ) from exc
        stmt = stmt.where(_after(key, descending, id_column, after_key, after_uuid))
    order: list[Any] = []
    if key is not None:
        expression = key.expression.desc() if descending else key.expression.asc()
        order.append(expression.nulls_last() if key.nullable else expression)
    order.append(id_column.desc() if descending else id_column.asc())
    rows = list((await session.scalars(stmt.order_by(*order).limit(limit + 1))).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        value = None if key is None else key.value_of(last)
        next_cursor = encode_cursor([value, str(getattr(last, id_column.key))])
    return Page(items=[to_item(row) for row in rows], next_cursor=next_cursor)


def _after(
    key: SortKey | None,
    descending: bool,
    id_column: InstrumentedAttribute[uuid.UUID],
    after_key: Any,
    after_id: uuid.UUID,
) -> ColumnElement[bool]:
    """The rows after the cursor's (value, id) in the page order: values then ids, rows
    without a value last."""
    later_id = id_column < after_id if descending else id_column > after_id
    if key is None:
        return later_id
    value = key.expression
    if after_key is None:  # the cursor is among the rows without a value
        return and_(value.is_(None), later_id)
    beyond = or_(value < after_key if descending else value > after_key, and_(value == after_key, later_id))
    return or_(beyond, value.is_(None)) if key.nullable else beyond


def _column_key(column: InstrumentedAttribute[Any]) -> SortKey:
    nullable = bool(getattr(column.expression, "nullable", True))
    return SortKey(
        expression=cast(ColumnElement[Any], column),
        value_of=lambda row: _plain(getattr(row, column.key)),
        from_cursor=lambda value: _coerce(column, value),
        nullable=nullable,
    )


def _sort_key(
    sort: str | None,
    sortable: Mapping[str, InstrumentedAttribute[Any]],
    sort_keys: SortKeys | None,
) -> tuple[SortKey | None, bool]:
    if not sort:
        return None, False
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name == "id":
        return None, descending
    if name in sortable:
        return _column_key(sortable[name]), descending
    key = sort_keys(name) if sort_keys is not None else None
    if key is None:
        allowed = ", ".join(sorted({"id", *sortable}))
        more = " (or a custom field: cf.<key>)" if sort_keys is not None else ""
        raise Invalid(
            f"Cannot sort by {name!r}; choose one of: {allowed}{more}.", field="sort", code="invalid_sort"
        )
    return key, descending


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
