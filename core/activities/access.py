"""The one access path to activities: the scope of an activity is its owner *or* its assignee,
and an out-of-scope id is "not found"."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.activities.models import Activity
from core.kernel.errors import NotFound
from core.security.principal import Principal
from core.security.scope import visible_owner_ids

__all__ = ["activity_in_scope", "activity_scope"]


async def activity_scope(session: AsyncSession, principal: Principal, permission: str) -> ColumnElement[bool]:
    """A WHERE clause limiting activities to those whose owner or assignee the caller's
    scope of ``permission`` covers."""
    visible = await visible_owner_ids(session, principal, permission)
    if visible is None:
        return true()
    if not visible:
        return false()
    return or_(Activity.owner_id.in_(visible), Activity.assignee_id.in_(visible))


async def activity_in_scope(
    session: AsyncSession,
    principal: Principal,
    activity_id: uuid.UUID,
    permission: str,
    *,
    lock: bool = False,
) -> Activity:
    """The activity, if within the caller's scope of ``permission``; otherwise not found."""
    stmt = select(Activity).where(
        Activity.id == activity_id, await activity_scope(session, principal, permission)
    )
    if lock:
        stmt = stmt.with_for_update()
    activity = await session.scalar(stmt)
    if activity is None:
        raise NotFound()
    return activity
