"""Filters and sorts on custom values, for the list routes of the entities that have them.

``cf.<key>=value`` and ``cf.<key>__<op>=value`` query parameters become SQLAlchemy
expressions on the entity's JSON column, typed by the field: numbers and money amounts
compare as numbers, dates as dates (stored ``YYYY-MM-DD``, so their text order is their date
order), booleans as booleans, and a multi-select matches when it contains every option
asked for. The same expressions render as ``json_extract`` on SQLite and ``->>`` / ``@>``
on PostgreSQL (where a GIN index on the column serves ``contains``).

==============  ==============================================================
type            operators (none means ``eq``)
==============  ==============================================================
text            eq, ne, in, contains (case-insensitive), isnull
number          eq, ne, gt, gte, lt, lte, in, isnull
money           eq, ne, gt, gte, lt, lte (on the amount), currency, isnull
date            eq, ne, gt, gte, lt, lte, isnull
single_select   eq, ne, in, isnull
multi_select    contains (comma-separated keys, all of them), isnull
boolean         eq, isnull
==============  ==============================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Boolean, ColumnElement, UnaryExpression, func, not_, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from core.customfields.schemas import FieldView
from core.customfields.validation import parse_number
from core.kernel.errors import Invalid
from core.kernel.pagination import SortKey

__all__ = [
    "PREFIX",
    "JsonColumn",
    "filter_clauses",
    "has_value",
    "order_by",
    "sort_key",
    "value_expression",
]

PREFIX = "cf."
#: The JSON column holding an entity's values: ``Customer.custom_fields``, or any column.
JsonColumn = ColumnElement[Any] | InstrumentedAttribute[Any]
_OPS: dict[str, frozenset[str]] = {
    "text": frozenset({"eq", "ne", "in", "contains", "isnull"}),
    "number": frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "isnull"}),
    "money": frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "currency", "isnull"}),
    "date": frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "isnull"}),
    "single_select": frozenset({"eq", "ne", "in", "isnull"}),
    "multi_select": frozenset({"contains", "isnull"}),
    "boolean": frozenset({"eq", "isnull"}),
}


class _ContainsAll(FunctionElement[bool]):
    """``document[key]`` (a JSON array) holds every item of the JSON array ``wanted``."""

    name = "cf_contains_all"
    type = Boolean()
    inherit_cache = True


@compiles(_ContainsAll, "postgresql")
def _contains_all_pg(element: _ContainsAll, compiler: SQLCompiler, **kw: Any) -> str:
    document, key, wanted = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"({document} @> jsonb_build_object({key}, CAST({wanted} AS JSONB)))"


@compiles(_ContainsAll)
def _contains_all_sqlite(element: _ContainsAll, compiler: SQLCompiler, **kw: Any) -> str:
    document, key, wanted = (compiler.process(clause, **kw) for clause in element.clauses)
    # Every part is a compiled bind parameter or column: nothing of the client's is inlined.
    return (
        f"(NOT EXISTS (SELECT 1 FROM json_each({wanted}) AS cf_wanted WHERE cf_wanted.value NOT IN "  # noqa: S608
        f"(SELECT cf_have.value FROM json_each({document}, '$.' || {key}) AS cf_have)))"
    )


def value_expression(definition: FieldView, column: JsonColumn) -> ColumnElement[Any]:
    """The typed value of ``definition`` in the JSON ``column``: what filters compare and
    lists sort on (a money field's amount; a multi-select's JSON text)."""
    element: Any = column[definition.key]
    if definition.type == "number":
        value = element.as_numeric(30, 6)
    elif definition.type == "money":
        value = column[(definition.key, "amount")].as_numeric(30, 6)
    elif definition.type == "boolean":
        value = element.as_boolean()
    else:
        value = element.as_string()
    return cast(ColumnElement[Any], value)


def has_value(column: JsonColumn, key: str) -> ColumnElement[bool]:
    """The record holds a value for ``key`` (cleared values are not stored)."""
    return cast(ColumnElement[bool], column[key].as_string().is_not(None))


def filter_clauses(
    definitions: Sequence[FieldView],
    column: JsonColumn,
    params: Mapping[str, str] | Iterable[tuple[str, str]],
) -> list[ColumnElement[bool]]:
    """The WHERE clauses for the ``cf.`` parameters among ``params`` (other ones are left to
    the caller); give them all to ``stmt.where(*clauses)``.

    Raises:
        Invalid: a parameter names no field, an operator the field's type lacks, or a value
            of the wrong type; the error names the parameter.
    """
    pairs = params.items() if isinstance(params, Mapping) else params
    by_key = {d.key: d for d in definitions}
    clauses = []
    for name, raw in pairs:
        if not name.startswith(PREFIX):
            continue
        key, _, op = name[len(PREFIX) :].partition("__")
        op = op or "eq"
        definition = by_key.get(key)
        if definition is None:
            raise Invalid(f"{name}: there is no custom field {key!r}.", field=name, code="invalid_filter")
        if op not in _OPS[definition.type]:
            allowed = ", ".join(sorted(_OPS[definition.type]))
            raise Invalid(
                f"{name}: a {definition.type} field filters with {allowed}.",
                field=name,
                code="invalid_filter",
            )
        try:
            clauses.append(_clause(definition, column, op, raw))
        except ValueError as exc:
            raise Invalid(f"{name}: {exc}", field=name, code="invalid_filter") from None
    return clauses


def order_by(definitions: Sequence[FieldView], column: JsonColumn, sort: str) -> UnaryExpression[Any]:
    """The ORDER BY term for ``sort`` (``cf.<key>``, or ``-cf.<key>`` for descending), empty
    values last either way. Add the id as a tie-breaker.

    Raises:
        Invalid: no such field, or a multi-select (field ``sort``).
    """
    descending = sort.startswith("-")
    key = sort.lstrip("-").removeprefix(PREFIX)
    definition = next((d for d in definitions if d.key == key), None)
    if definition is None or definition.type == "multi_select":
        raise Invalid(f"Cannot sort by {sort!r}.", field="sort", code="invalid_sort")
    value = value_expression(definition, column)
    return (value.desc() if descending else value.asc()).nulls_last()


def sort_key(
    definitions: Sequence[FieldView], column: InstrumentedAttribute[Any], name: str
) -> SortKey | None:
    """The keyset sort key for ``cf.<key>`` (for :func:`core.kernel.pagination.paginate`);
    None for a name that is not a custom field. Records without a value come last.

    Raises:
        Invalid: no such field, or a multi-select (field ``sort``).
    """
    if not name.startswith(PREFIX):
        return None
    key = name.removeprefix(PREFIX)
    definition = next((d for d in definitions if d.key == key), None)
    if definition is None or definition.type == "multi_select":
        raise Invalid(f"Cannot sort by {name!r}.", field="sort", code="invalid_sort")
    numeric = definition.type in ("number", "money")

    def value_of(row: Any) -> Any:
        value = (getattr(row, column.key) or {}).get(key)
        if isinstance(value, Mapping):  # money
            value = value.get("amount")
        return None if value is None else str(Decimal(str(value))) if numeric else value

    def from_cursor(value: Any) -> Any:
        if numeric:
            return Decimal(str(value))
        if definition.type == "boolean" and not isinstance(value, bool):
            raise ValueError("not a boolean")
        return value

    return SortKey(
        expression=value_expression(definition, column), value_of=value_of, from_cursor=from_cursor
    )


def _clause(definition: FieldView, column: JsonColumn, op: str, raw: str) -> ColumnElement[bool]:
    if op == "isnull":
        flag = _boolean(raw)
        return not_(has_value(column, definition.key)) if flag else has_value(column, definition.key)
    if op == "contains" and definition.type == "multi_select":
        wanted = _option_keys(definition, raw)
        return _ContainsAll(column, definition.key, json.dumps(wanted))
    if op == "currency":
        currency: Any = column[(definition.key, "currency")]
        return cast(ColumnElement[bool], currency.as_string() == raw.strip().upper())
    value = value_expression(definition, column)
    parse = _PARSERS[definition.type]
    if op == "in":
        return value.in_([parse(definition, item) for item in raw.split(",")])
    if op == "contains":
        needle = raw.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return func.lower(value).like(f"%{needle}%", escape="\\")
    operand = parse(definition, raw)
    if op == "ne":
        return or_(value != operand, value.is_(None))
    compare: dict[str, Callable[[Any], ColumnElement[bool]]] = {
        "eq": value.__eq__,
        "gt": value.__gt__,
        "gte": value.__ge__,
        "lt": value.__lt__,
        "lte": value.__le__,
    }
    return compare[op](operand)


def _boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValueError("must be true or false")


def _number(_: FieldView, raw: str) -> Decimal:
    return parse_number(raw)


def _date(_: FieldView, raw: str) -> str:
    try:
        return date.fromisoformat(raw.strip()).isoformat()
    except ValueError:
        raise ValueError("must be a date as YYYY-MM-DD") from None


def _option(definition: FieldView, raw: str) -> str:
    key = raw.strip()
    if key not in {option.key for option in definition.options}:
        raise ValueError(f"unknown option {key!r}")
    return key


def _option_keys(definition: FieldView, raw: str) -> list[str]:
    return [_option(definition, item) for item in raw.split(",") if item.strip()] or [_option(definition, "")]


_PARSERS: dict[str, Callable[[FieldView, str], Any]] = {
    "text": lambda _, raw: raw,
    "number": _number,
    "money": _number,
    "date": _date,
    "single_select": _option,
    "boolean": lambda _, raw: _boolean(raw),
}
