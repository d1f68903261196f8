"""Writing a batch's new records without the unit of work, storing what a flush would.

A flush of thousands of new objects spends most of its time in the unit of work (identity
map, dependency sort, per-object history and events), not in the database. An import's batch
only ever inserts new rows, so it does the flush's steps itself, in the same order, and writes
the rows with one multi-row INSERT (so does a webhook event's deliveries, which skip the
duplicates of rows already there in the same statement):

1. the tenant in context goes on each object (``before_flush`` of core/kernel/tenancy.py);
2. each object gets its id and its sealed values and blind indexes (``before_insert`` of
   core/crypto/fields.py);
3. columns without a value take their default as the ORM computes it (a ``None`` that is not
   a JSON null takes the default too), and the version counter starts at 1;
4. one INSERT of all the rows (with ``skip_conflicts_on``: ``ON CONFLICT DO NOTHING``, which
   returns the keys of the rows it wrote);
5. the audit entries a flush would write for the rows written, with the same content and in
   the same order, are appended to the tenant's chain (core/audit/capture.py).

The objects stay out of the session (transient): nothing later in the transaction flushes or
reloads them. A model with a default only the database knows (a server default without a
Python one, a SQL expression) is refused: its row would not be what the objects say.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Insert, Table, insert, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, Session

from core.audit.capture import created_drafts
from core.audit.chain import append
from core.crypto.fields import seal_new
from core.kernel.models import TenantOwned
from core.kernel.tenancy import CrossTenantWrite, current_tenant_id
from core.kernel.upsert import dialect_insert

__all__ = ["insert_new"]

_MISSING = object()


@functools.cache
def _plan(mapper: Mapper[Any]) -> tuple[Table, tuple[tuple[str, Column[Any]], ...], Column[Any] | None]:
    """The table, its columns by attribute key, and the version column of ``mapper``; refuses
    defaults that only the database can compute (mappers do not change once configured)."""
    table: Table = mapper.local_table  # type: ignore[assignment]
    columns: list[tuple[str, Column[Any]]] = []
    version: Column[Any] | None = mapper.version_id_col  # type: ignore[assignment]
    for prop in mapper.column_attrs:
        column: Column[Any] = prop.columns[0]  # type: ignore[assignment]
        default = column.default
        python_default = default is not None and (default.is_scalar or default.is_callable)
        if column is not version and (
            (default is not None and not python_default)
            or (default is None and column.server_default is not None)
        ):
            raise TypeError(f"{table.name}.{column.name} has a default only the database computes")
        columns.append((prop.key, column))
    return table, tuple(columns), version


def _default(column: Column[Any]) -> Any:
    default: Any = column.default
    return default.arg(None) if default.is_callable else default.arg


def _row(
    obj: Any, columns: tuple[tuple[str, Column[Any]], ...], version: Column[Any] | None
) -> dict[str, Any]:
    values = inspect(obj).dict
    row: dict[str, Any] = {}
    for key, column in columns:
        value = values.get(key, _MISSING)
        if column is version:
            value = inspect(obj).mapper.version_id_generator(None)  # its first value: 1
            setattr(obj, key, value)
        elif value is _MISSING or (value is None and not column.type.should_evaluate_none):
            if column.default is not None:  # as the ORM does; the object shows it, as after a flush
                value = _default(column)
                setattr(obj, key, value)
            else:
                value = None
        row[column.key] = value
    return row


@functools.cache
def _insert_skipping(dialect: str, table: Table, conflict_columns: tuple[str, ...]) -> Insert:
    """``INSERT ... ON CONFLICT (columns) DO NOTHING RETURNING <primary key>``, built once."""
    stmt = dialect_insert(dialect, table).on_conflict_do_nothing(index_elements=list(conflict_columns))
    return stmt.returning(*table.primary_key.columns)


def _write(
    connection: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    skip_conflicts_on: tuple[str, ...] | None,
) -> list[bool]:
    """Insert ``rows`` in one statement; whether each was written (not skipped as a conflict)."""
    if skip_conflicts_on is None:
        connection.execute(insert(table), rows)
        return [True] * len(rows)
    # A list of parameters goes as one multi-row statement whose RETURNING gives the written rows.
    stmt = _insert_skipping(connection.dialect.name, table, skip_conflicts_on)
    written = {tuple(row) for row in connection.execute(stmt, rows)}
    keys = [c.key for c in table.primary_key.columns]
    return [tuple(row[k] for k in keys) in written for row in rows]


def _insert(session: Session, objects: Sequence[Any], skip_conflicts_on: tuple[str, ...] | None) -> list[Any]:
    kind = type(objects[0])
    if any(type(o) is not kind for o in objects):
        raise TypeError("insert_new takes objects of one mapped class at a time")
    table, columns, version = _plan(inspect(kind))
    tenant_id = current_tenant_id()
    connection = session.connection()
    rows = []
    for obj in objects:
        if isinstance(obj, TenantOwned):
            if obj.tenant_id is None:
                obj.tenant_id = tenant_id
            elif obj.tenant_id != tenant_id:
                raise CrossTenantWrite(f"{kind.__name__} of another tenant written in this context")
        seal_new(session, connection, obj)
        rows.append(_row(obj, columns, version))
    written = [
        obj for obj, ok in zip(objects, _write(connection, table, rows, skip_conflicts_on), strict=True) if ok
    ]
    append(connection, tenant_id, created_drafts(written))
    return written


async def insert_new(
    session: AsyncSession, objects: Sequence[Any], *, skip_conflicts_on: Sequence[str] | None = None
) -> list[Any]:
    """Insert new (transient) ``objects`` of one mapped class in ``session``'s transaction,
    encrypted and audited exactly as a flush would, in one multi-row INSERT; returns them.

    With ``skip_conflicts_on`` (the columns of a unique constraint), an object whose row would
    break that constraint is not written, nor audited, and is left out of what is returned.
    """
    if not objects:
        return []
    conflicts = None if skip_conflicts_on is None else tuple(skip_conflicts_on)
    written: list[Any] = await session.run_sync(_insert, objects, conflicts)
    return written
