"""Recording events and job requests in the caller's transaction (the outbox).

Nothing reaches the broker before the caller's transaction commits, and nothing is lost if
the process dies right after: the relay sends committed rows (pitfall 7 of DESIGN.md). The
commit wakes the relay at once: in this process through :data:`OUTBOX_COMMITTED`, in the
others through the ``NOTIFY`` that the outbox table's trigger sends on PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

import msgspec
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.events.models import OutboxKind, OutboxMessage
from core.events.schemas import DomainEvent
from core.kernel.clock import utcnow
from core.kernel.ids import new_id
from core.kernel.signals import signal_on_commit
from core.kernel.tenancy import current_tenant_id

__all__ = ["OUTBOX_COMMITTED", "record_event", "record_events", "record_job"]

#: The commit signal (:mod:`core.kernel.signals`) of a transaction that wrote outbox rows.
OUTBOX_COMMITTED = "outbox"


async def record_event(session: AsyncSession, event: DomainEvent) -> uuid.UUID:
    """Record ``event`` for the tenant in context, in ``session``'s transaction.

    Returns the event id, which handlers deduplicate on.

    Raises:
        NoTenantInContext: events always belong to a tenant.
    """
    return _add(
        session,
        kind=OutboxKind.EVENT,
        name=type(event).name,
        version=type(event).version,
        payload=msgspec.to_builtins(event),
        tenant_id=current_tenant_id(),
    )


async def record_events(session: AsyncSession, events: Sequence[DomainEvent]) -> list[uuid.UUID]:
    """Record many events at once (an import's batch): one multi-row INSERT instead of one
    ORM object each; otherwise exactly :func:`record_event`."""
    if not events:
        return []
    tenant_id = current_tenant_id()
    now = utcnow()
    rows = []
    for event in events:
        row_id = new_id()
        rows.append(
            {
                "id": row_id,
                "tenant_ref": tenant_id,
                "kind": OutboxKind.EVENT,
                "name": type(event).name,
                "version": type(event).version,
                "payload": msgspec.to_builtins(event),
                "only_handler": None,
                "message_id": row_id,
                "created_at": now,
            }
        )
    await session.execute(insert(cast(Table, OutboxMessage.__table__)), rows)
    signal_on_commit(session, OUTBOX_COMMITTED)
    return [row["id"] for row in rows]


def record_job(
    session: AsyncSession, name: str, payload: dict[str, Any], tenant_id: uuid.UUID | None
) -> uuid.UUID:
    """Low level: use :func:`core.jobs.service.enqueue`, which checks the job and its tenant."""
    return _add(session, kind=OutboxKind.JOB, name=name, version=1, payload=payload, tenant_id=tenant_id)


def record_replay(
    session: AsyncSession,
    *,
    kind: str,
    name: str,
    version: int,
    payload: dict[str, Any],
    tenant_id: uuid.UUID | None,
    handler: str | None,
    message_id: uuid.UUID,
) -> uuid.UUID:
    """Send a dead-lettered message again, to one handler, under its original id."""
    return _add(
        session,
        kind=kind,
        name=name,
        version=version,
        payload=payload,
        tenant_id=tenant_id,
        only_handler=handler,
        message_id=message_id,
    )


def _add(
    session: AsyncSession,
    *,
    kind: str,
    name: str,
    version: int,
    payload: dict[str, Any],
    tenant_id: uuid.UUID | None,
    only_handler: str | None = None,
    message_id: uuid.UUID | None = None,
) -> uuid.UUID:
    row_id = new_id()
    session.add(
        OutboxMessage(
            id=row_id,
            tenant_ref=tenant_id,
            kind=kind,
            name=name,
            version=version,
            payload=payload,
            only_handler=only_handler,
            message_id=message_id or row_id,
        )
    )
    signal_on_commit(session, OUTBOX_COMMITTED)
    return message_id or row_id
