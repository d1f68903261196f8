"""Tenant context and the first two isolation walls.

* The current tenant lives in a context variable, set from the credential of a request or
  the payload of a job, never from a client-supplied header or body.
* ORM wall: every ORM ``SELECT``/``UPDATE``/``DELETE`` touching a :class:`TenantOwned` model
  gets ``tenant_id = :current`` added; inserts get the tenant filled in; with no tenant in
  context such a query raises :class:`NoTenantInContext` instead of reading every tenant.
* PostgreSQL wall: at the start of every transaction ``app.tenant_id`` is set with
  ``set_config(..., true)`` (transaction-local), which the RLS policies read. A pooled
  connection therefore never carries one tenant into the next transaction.

Code that must read across tenants on purpose (signing in, platform administration) says so
with ``.execution_options(all_tenants=True)``; on PostgreSQL, RLS still applies to it.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, with_loader_criteria
from sqlalchemy.orm.util import LoaderCriteriaOption
from sqlalchemy.sql.util import find_tables

from core.kernel.models import TenantOwned

__all__ = [
    "ALL_TENANTS",
    "CrossTenantWrite",
    "NoTenantInContext",
    "TenantSession",
    "current_tenant_id",
    "enter_tenant",
    "peek_tenant_id",
    "set_rls_user",
    "tenant_context",
]

_current_tenant: ContextVar[uuid.UUID | None] = ContextVar("huike_tenant", default=None)

#: Execution option that lifts the ORM filter for one deliberate cross-tenant statement.
ALL_TENANTS = {"all_tenants": True}


class NoTenantInContext(RuntimeError):
    """A tenant-owned model was queried with no tenant in context."""


class CrossTenantWrite(RuntimeError):
    """An object of one tenant was written while another tenant is in context."""


def current_tenant_id() -> uuid.UUID:
    tenant_id = _current_tenant.get()
    if tenant_id is None:
        raise NoTenantInContext("no tenant in context for a tenant-owned query")
    return tenant_id


def peek_tenant_id() -> uuid.UUID | None:
    return _current_tenant.get()


def enter_tenant(tenant_id: uuid.UUID) -> None:
    """Set the tenant for the rest of the current task: the API guard does this once the
    credential names the tenant (a request's task ends with the request). Anywhere else, use
    :func:`tenant_context`, which restores what was there."""
    _current_tenant.set(tenant_id)


@contextmanager
def tenant_context(tenant_id: uuid.UUID | None) -> Iterator[None]:
    """Run the block as ``tenant_id``. Open the session inside the block, so the RLS setting
    made at transaction start sees the tenant."""
    token = _current_tenant.set(tenant_id)
    try:
        yield
    finally:
        _current_tenant.reset(token)


class TenantSession(Session):
    """The session class of every ``AsyncSession`` Huike opens."""


def _touches_tenant_owned_tables(state: ORMExecuteState) -> bool:
    # A tenant-owned entity among the statement's mappers settles it without walking the
    # statement (the walk costs more than compiling a cached query); the first mapper is the
    # cheapest to ask. Otherwise walk it: ``all_mappers`` misses entities that appear only in
    # FROM (``select(func.count()).select_from(Model)``).
    first = state.bind_mapper
    if first is not None and issubclass(first.class_, TenantOwned):
        return True
    if any(issubclass(m.class_, TenantOwned) for m in state.all_mappers):
        return True
    statement: Any = state.statement
    tables = find_tables(
        statement,
        check_columns=True,
        include_aliases=True,
        include_joins=True,
        include_selects=True,
        include_crud=True,
    )
    return any(getattr(t, "c", None) is not None and "tenant_id" in t.c for t in tables)


@event.listens_for(TenantSession, "do_orm_execute")
def _filter_to_current_tenant(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get("all_tenants"):
        return
    if not _touches_tenant_owned_tables(state):
        return
    state.statement = state.statement.options(_tenant_criteria(current_tenant_id()))


@functools.lru_cache(maxsize=4096)
def _tenant_criteria(tenant_id: uuid.UUID) -> LoaderCriteriaOption:
    """The option that filters every tenant-owned entity to ``tenant_id`` (one per tenant:
    options are immutable, and building one costs as much as a short query's compile lookup)."""
    return with_loader_criteria(
        TenantOwned,
        lambda cls: cls.tenant_id == tenant_id,
        include_aliases=True,
    )


@event.listens_for(TenantSession, "before_flush")
def _stamp_tenant_on_write(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, TenantOwned):
            continue
        tenant_id = current_tenant_id()
        if obj.tenant_id is None:
            obj.tenant_id = tenant_id
        elif obj.tenant_id != tenant_id:
            raise CrossTenantWrite(f"{type(obj).__name__} of another tenant written in this context")


@event.listens_for(TenantSession, "after_begin")
def _set_rls_tenant(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    # A savepoint is inside the transaction that set it already.
    if connection.dialect.name != "postgresql" or transaction.nested:
        return
    tenant_id = _current_tenant.get()
    connection.execute(
        text("SELECT set_config('app.tenant_id', :tenant, true)"),
        {"tenant": "" if tenant_id is None else str(tenant_id)},
    )


async def set_rls_user(session: Any, user_id: uuid.UUID) -> None:
    """Let this transaction read the given account's own memberships in every tenant (login)."""
    conn = await session.connection()
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT set_config('app.user_id', :user, true)"), {"user": str(user_id)})
