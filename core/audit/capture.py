"""Automatic capture: every create, update and delete of an audited record, in the same
transaction, from the session itself, so no service can forget to call it.

A mapped class is audited when it is tenant-owned, unless it declares ``__audited__ = False``
(technical tables: refresh tokens, the audit tables...); a platform table opts in with
``__audited__ = True`` (the tenant itself, accounts). After each flush, the attribute history
of the new, dirty and deleted audited instances becomes entries, values of columns marked
``info={"sensitive": True}`` redacted, appended to the chain of the record's tenant.

Bulk ``UPDATE``/``DELETE``/``INSERT`` statements on an audited model bypass the unit of work;
each becomes one ``bulk_*`` entry (table, values set, rows touched), unless the caller records
the change itself and says so with ``.execution_options(audited_by_caller=True)``.
"""

from __future__ import annotations

import enum
import functools
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.orm.base import NO_VALUE

from core.audit.chain import Draft, append
from core.kernel.models import Tenant, TenantOwned
from core.kernel.tenancy import TenantSession, peek_tenant_id

__all__ = ["REDACTED", "created_drafts", "is_audited", "pending_drafts", "plain"]

REDACTED = "[redacted]"
_PENDING = "huike_audit_pending"
_KNOWN_TENANTS = "huike_audit_tenants"


def is_audited(cls: type[Any]) -> bool:
    declared = getattr(cls, "__audited__", None)
    if declared is not None:
        return bool(declared)
    return issubclass(cls, TenantOwned)


_AS_IS = frozenset({type(None), bool, int, str})


def plain(value: Any) -> Any:
    """A JSON-ready copy of a column value."""
    if type(value) in _AS_IS:  # most values: one set lookup (an import snapshots thousands)
        return value
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return str(value)
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


def _value(column: Any, value: Any) -> Any:
    if value is NO_VALUE:
        return None
    if value is not None and column.info.get("sensitive"):
        return REDACTED
    return plain(value)


@functools.cache
def _columns(mapper: Any) -> tuple[tuple[str, bool], ...]:
    """Each column attribute of ``mapper`` and whether it is sensitive (mappers do not change
    once configured; a batch of an import snapshots thousands of rows of one mapper)."""
    return tuple((attr.key, bool(attr.columns[0].info.get("sensitive"))) for attr in mapper.column_attrs)


def _snapshot(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    values = state.dict
    snapshot: dict[str, Any] = {}
    for key, sensitive in _columns(state.mapper):
        value = values.get(key)
        if value is None or type(value) in _AS_IS:
            snapshot[key] = REDACTED if sensitive and value is not None else value
        else:
            snapshot[key] = REDACTED if sensitive else plain(value)
    return snapshot


def _diff(obj: Any) -> dict[str, Any] | None:
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if not history.added and not history.deleted:
            continue
        old = history.deleted[0] if history.deleted else NO_VALUE
        new = history.added[0] if history.added else None
        if old is not NO_VALUE and old == new:
            continue
        column = attr.columns[0]
        before[attr.key] = _value(column, old)
        after[attr.key] = _value(column, new)
    return {"before": before, "after": after} if after else None


def _entity_id(obj: Any) -> str:
    mapper = inspect(obj).mapper  # once: an import's batch asks this for thousands of rows
    identity = mapper.primary_key_from_instance(obj)
    pairs = zip(mapper.primary_key, identity, strict=True)
    own = [value for column, value in pairs if column.name != "tenant_id"]
    return ":".join(str(v) for v in own)


def _table_name(obj: Any) -> str:
    return str(inspect(obj).mapper.local_table.name)


def _tenant_of(obj: Any) -> uuid.UUID | None:
    if isinstance(obj, TenantOwned):
        return obj.tenant_id
    if isinstance(obj, Tenant):
        return obj.id
    return peek_tenant_id()


def _drafts(session: Session) -> dict[uuid.UUID, list[Draft]]:
    found: dict[uuid.UUID, list[Draft]] = defaultdict(list)
    for verb, objects in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        audited = [o for o in objects if is_audited(type(o))]
        for obj in sorted(audited, key=lambda o: (type(o).__name__, _entity_id(o))):
            tenant_id = _tenant_of(obj)
            if tenant_id is None:  # an account changed outside any tenant (password reset)
                continue
            if verb == "create":
                changes: dict[str, Any] | None = {"before": None, "after": _snapshot(obj)}
            elif verb == "delete":
                changes = {"before": _snapshot(obj), "after": None}
            else:
                changes = _diff(obj)
            if changes is None:
                continue
            found[tenant_id].append(
                Draft(
                    action=verb,
                    entity_type=_table_name(obj),
                    entity_id=_entity_id(obj),
                    changes=changes,
                )
            )
    return found


def created_drafts(objects: Iterable[Any]) -> list[Draft]:
    """The entries a flush writes for these new objects (of one tenant), in the order it
    writes them: for a caller that inserts them without the unit of work
    (``core/imports/writes.py``)."""
    audited = [(o, _entity_id(o)) for o in objects if is_audited(type(o))]
    audited.sort(key=lambda pair: (type(pair[0]).__name__, pair[1]))
    return [
        Draft(
            action="create",
            entity_type=_table_name(obj),
            entity_id=entity_id,
            changes={"before": None, "after": _snapshot(obj)},
        )
        for obj, entity_id in audited
    ]


def pending_drafts(session: Session) -> dict[uuid.UUID, list[Draft]]:
    """Entries waiting for their tenant's row to be written (signup creates the owner's
    account before the tenant)."""
    pending: dict[uuid.UUID, list[Draft]] = session.info.setdefault(_PENDING, {})
    return pending


def _tenant_exists(session: Session, tenant_id: uuid.UUID) -> bool:
    known: set[uuid.UUID] = session.info.setdefault(_KNOWN_TENANTS, set())
    if tenant_id not in known:
        found = session.connection().execute(select(Tenant.id).where(Tenant.id == tenant_id)).first()
        if found is None:
            return False
        known.add(tenant_id)
    return True


@event.listens_for(TenantSession, "after_flush")
def _capture(session: Session, flush_context: Any) -> None:
    pending = pending_drafts(session)
    for tenant_id, drafts in _drafts(session).items():
        pending.setdefault(tenant_id, []).extend(drafts)
    for tenant_id in list(pending):
        if _tenant_exists(session, tenant_id):
            append(session.connection(), tenant_id, pending.pop(tenant_id))


@event.listens_for(TenantSession, "after_transaction_end")
def _forget(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_KNOWN_TENANTS, None)


def _bulk_values(statement: Any) -> dict[str, Any]:
    values = getattr(statement, "_values", None) or {}
    found: dict[str, Any] = {}
    for key, bind in values.items():
        column = key if hasattr(key, "info") else None
        name = getattr(key, "key", str(key))
        found[name] = _value(column, getattr(bind, "value", None)) if column is not None else REDACTED
    return found


@event.listens_for(TenantSession, "do_orm_execute")
def _audit_bulk(state: ORMExecuteState) -> Any:
    """Bulk statements skip the unit of work; each one becomes one entry naming the table,
    the values it set and how many rows it touched, unless the caller audits it itself."""
    if not (state.is_update or state.is_delete or state.is_insert):
        return None
    mapper = state.bind_mapper
    if mapper is None or not is_audited(mapper.class_) or state.execution_options.get("audited_by_caller"):
        return None
    tenant_id = peek_tenant_id()
    if tenant_id is None:
        if not getattr(mapper.class_, "__tenant_owned__", False):
            return None  # a platform table (accounts) changed outside any business: no chain
        # Tenant-owned rows always belong to a chain; skipping would let the write escape it.
        raise RuntimeError(
            f"bulk {mapper.class_.__name__} statement outside a tenant: run it per tenant, or audit "
            "it yourself and pass execution_options(audited_by_caller=True)"
        )
    result = state.invoke_statement()
    verb = "update" if state.is_update else "delete" if state.is_delete else "insert"
    changes: dict[str, Any] = {"rows": getattr(result, "rowcount", None)}
    if not state.is_delete:
        changes["values"] = _bulk_values(state.statement)
    table = str(mapper.local_table.name)  # type: ignore[attr-defined]
    append(state.session.connection(), tenant_id, [Draft(f"bulk_{verb}", table, changes=changes)])
    return result
