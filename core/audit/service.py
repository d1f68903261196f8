"""Audit use cases: record an explicit entry, list entries, stream an export."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.chain import Draft, append
from core.audit.context import AuditContext, current_audit_context
from core.audit.models import AuditEntry
from core.audit.schemas import AuditEntryView, AuditFilter
from core.kernel.clock import as_utc
from core.kernel.database import Database
from core.kernel.errors import Invalid
from core.kernel.pagination import Page, PageRequest, paginate
from core.kernel.tenancy import current_tenant_id, tenant_context

__all__ = ["EXPORT_FORMATS", "entry_view", "export", "list_entries", "make_filter", "record"]

EXPORT_FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
_EXPORT_BATCH = 500
_CSV_COLUMNS = [f for f in AuditEntryView.__struct_fields__]


async def record(
    session: AsyncSession,
    action: str,
    *,
    entity_type: str | None = None,
    entity_id: uuid.UUID | str | None = None,
    details: dict[str, Any] | None = None,
    tenant_id: uuid.UUID | None = None,
    context: AuditContext | None = None,
) -> None:
    """Append an explicit entry (a sign-in, a denial...) in the session's transaction.

    ``tenant_id`` defaults to the tenant in context; ``context`` to the current audit context.
    """
    tenant = tenant_id or current_tenant_id()
    draft = Draft(
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        changes=details or {},
        context=context or current_audit_context(),
    )
    await session.run_sync(lambda sync: append(sync.connection(), tenant, [draft]))


def entry_view(entry: AuditEntry) -> AuditEntryView:
    return AuditEntryView(
        id=entry.id,
        seq=entry.seq,
        occurred_at=entry.occurred_at,
        actor_type=entry.actor_type,
        actor_id=entry.actor_id,
        action=entry.action,
        entity_type=entry.entity_type,
        entity_id=entry.entity_id,
        changes=entry.changes,
        ip=entry.ip,
        user_agent=entry.user_agent,
        request_id=entry.request_id,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )


def _moment(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
    except ValueError:
        raise Invalid(
            f"{name} must be an ISO 8601 time, such as 2026-01-31T09:00:00Z.", field=name, code="invalid_time"
        ) from None


def make_filter(
    *,
    actor_type: str | None = None,
    actor_id: str | None = None,
    action: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> AuditFilter:
    """Build a filter from query text; a malformed time is a validation error, not a 500."""
    return AuditFilter(
        actor_type=actor_type or None,
        actor_id=actor_id or None,
        action=action or None,
        entity_type=entity_type or None,
        entity_id=entity_id or None,
        since=_moment(since, "since"),
        until=_moment(until, "until"),
    )


def _filtered(where: AuditFilter) -> Select[Any]:
    stmt = select(AuditEntry)
    if where.since and where.until and as_utc(where.since) > as_utc(where.until):
        raise Invalid("since must be before until.", field="since", code="invalid_range")
    for column, value in (
        (AuditEntry.actor_type, where.actor_type),
        (AuditEntry.actor_id, where.actor_id),
        (AuditEntry.action, where.action),
        (AuditEntry.entity_type, where.entity_type),
        (AuditEntry.entity_id, where.entity_id),
    ):
        if value:
            stmt = stmt.where(column == value)
    if where.since:
        stmt = stmt.where(AuditEntry.occurred_at >= as_utc(where.since))
    if where.until:
        stmt = stmt.where(AuditEntry.occurred_at < as_utc(where.until))
    return stmt


async def list_entries(session: AsyncSession, where: AuditFilter, page: PageRequest) -> Page[AuditEntryView]:
    """Entries of the current tenant, oldest first (``sort=-seq`` for newest first)."""
    return await paginate(
        session,
        _filtered(where),
        AuditEntry.id,
        page,
        entry_view,
        sortable={"seq": AuditEntry.seq, "occurred_at": AuditEntry.occurred_at},
    )


async def export(db: Database, tenant_id: uuid.UUID, where: AuditFilter, fmt: str) -> AsyncIterator[bytes]:
    """Yield the matching entries as CSV or JSON Lines, a batch at a time, each batch read in
    its own short transaction, so neither the memory nor a transaction grows with the log."""
    if fmt not in EXPORT_FORMATS:
        raise Invalid(
            f"format must be one of {', '.join(EXPORT_FORMATS)}.", field="format", code="invalid_choice"
        )
    stmt = _filtered(where).order_by(AuditEntry.seq).limit(_EXPORT_BATCH)
    return _export(db, tenant_id, stmt, fmt)


async def _export(db: Database, tenant_id: uuid.UUID, stmt: Select[Any], fmt: str) -> AsyncIterator[bytes]:
    if fmt == "csv":
        yield _csv_line(_CSV_COLUMNS)
    after = 0
    while True:
        with tenant_context(tenant_id):
            async with db.transaction() as session:
                batch = list((await session.scalars(stmt.where(AuditEntry.seq > after))).all())
        if not batch:
            return
        for entry in batch:
            view = entry_view(entry)
            if fmt == "csv":
                record_ = msgspec.to_builtins(view)
                record_["changes"] = msgspec.json.encode(view.changes).decode()
                yield _csv_line([record_[name] for name in _CSV_COLUMNS])
            else:
                yield msgspec.json.encode(view) + b"\n"
        after = batch[-1].seq


def _csv_line(values: list[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(["" if v is None else v for v in values])
    return buffer.getvalue().encode()
