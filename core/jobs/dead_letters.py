"""Dead letters for platform admins: list them, replay one."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.events.service import record_replay
from core.jobs.models import DeadLetter
from core.jobs.schemas import DeadLetterView
from core.kernel.clock import utcnow
from core.kernel.errors import Conflict, NotFound
from core.kernel.pagination import Page, PageRequest, paginate
from core.security.models import PlatformAdminAction

__all__ = ["list_dead_letters", "replay", "to_view"]


def to_view(row: DeadLetter) -> DeadLetterView:
    kind, _, target = row.actor.partition(":")
    return DeadLetterView(
        id=row.id,
        tenant_id=row.tenant_ref,
        kind=row.kind,
        name=row.name,
        handler=target if kind == "handler" else None,
        actor=row.actor,
        event_id=row.message_id,
        payload=row.payload,
        error=row.error,
        attempts=row.attempts,
        created_at=row.created_at,
        replayed_at=row.replayed_at,
    )


async def list_dead_letters(
    session: AsyncSession, page: PageRequest, pending_only: bool = False
) -> Page[DeadLetterView]:
    query = select(DeadLetter)
    if pending_only:
        query = query.where(DeadLetter.replayed_at.is_(None))
    return await paginate(session, query, DeadLetter.id, page, to_view)


async def replay(
    session: AsyncSession, admin_user_id: uuid.UUID, dead_letter_id: uuid.UUID
) -> DeadLetterView:
    """Send the message again to the handler or job that failed, under its original id, in
    the caller's transaction, and log the admin's action."""
    row = await session.get(DeadLetter, dead_letter_id, with_for_update=True)
    if row is None:
        raise NotFound("No such dead letter.")
    if row.replayed_at is not None:
        raise Conflict("This dead letter was already replayed.", code="already_replayed")
    record_replay(
        session,
        kind=row.kind,
        name=row.name,
        version=row.version,
        payload=row.payload,
        tenant_id=row.tenant_ref,
        handler=row.actor if row.actor.startswith("handler:") else None,
        message_id=row.message_id,
    )
    row.replayed_at = utcnow()
    session.add(
        PlatformAdminAction(
            admin_user_id=admin_user_id,
            action="dead_letter.replay",
            target_tenant_id=row.tenant_ref,
            detail={"dead_letter_id": str(row.id), "actor": row.actor, "event_id": str(row.message_id)},
        )
    )
    return to_view(row)
