"""Record scope: a grant of ``own``, ``team`` or ``all`` decides whose records a caller sees.

``own`` covers records the caller owns; ``team`` adds those owned by members of the caller's
team and of every team the caller manages; ``all`` covers the whole tenant. Services apply
:func:`owner_filter` to lists and to reads by id alike, so an out-of-scope id is a 404.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.errors import Forbidden
from core.security.models import Membership, Team
from core.security.principal import Principal

__all__ = ["owner_filter", "visible_owner_ids"]


async def visible_owner_ids(
    session: AsyncSession, principal: Principal, permission: str
) -> set[uuid.UUID] | None:
    """User ids whose records ``principal`` may see under ``permission``; None means all."""
    scope = principal.scope(permission)
    if scope is None:
        raise Forbidden(f"You need the permission {permission!r} for this.", code="permission_denied")
    if scope == "all":
        return None
    own = {principal.user_id} if principal.user_id is not None else set()
    if scope == "own" or principal.membership_id is None:
        return own
    managed = select(Team.id).where(Team.manager_membership_id == principal.membership_id)
    team_condition: ColumnElement[bool] = Membership.team_id.in_(managed)
    if principal.team_id is not None:
        team_condition = or_(team_condition, Membership.team_id == principal.team_id)
    members = await session.scalars(select(Membership.user_id).where(team_condition))
    return own | set(members)


async def owner_filter(
    session: AsyncSession, principal: Principal, permission: str, owner_column: Any
) -> ColumnElement[bool]:
    """A WHERE clause limiting ``owner_column`` (a user id column) to the caller's scope."""
    visible = await visible_owner_ids(session, principal, permission)
    if visible is None:
        return true()
    return owner_column.in_(visible) if visible else false()
