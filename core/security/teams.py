"""Teams: a named group of members with an optional manager, the unit of ``team`` scope."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.concurrency import ensure_version
from core.kernel.errors import Conflict, Invalid, NotFound
from core.kernel.pagination import Page, PageRequest, paginate
from core.security.models import Membership, Team

__all__ = [
    "TeamCreate",
    "TeamUpdate",
    "TeamView",
    "create_team",
    "delete_team",
    "ensure_team_exists",
    "get_team",
    "list_teams",
    "update_team",
]


class TeamView(msgspec.Struct):
    id: uuid.UUID
    name: str
    manager_id: uuid.UUID | None
    created_at: datetime
    version: int


class TeamCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    #: Membership id of the manager.
    manager_id: uuid.UUID | None = None


class TeamUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    manager_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET


def team_view(team: Team) -> TeamView:
    return TeamView(
        id=team.id,
        name=team.name,
        manager_id=team.manager_membership_id,
        created_at=team.created_at,
        version=team.version,
    )


async def _team(session: AsyncSession, team_id: uuid.UUID, *, lock: bool = False) -> Team:
    stmt = select(Team).where(Team.id == team_id)
    team = await session.scalar(stmt.with_for_update() if lock else stmt)
    if team is None:
        raise NotFound()
    return team


async def get_team(session: AsyncSession, team_id: uuid.UUID) -> TeamView:
    return team_view(await _team(session, team_id))


async def list_teams(session: AsyncSession, page: PageRequest) -> Page[TeamView]:
    return await paginate(session, select(Team), Team.id, page, team_view, sortable={"name": Team.name})


async def ensure_team_exists(
    session: AsyncSession, team_id: uuid.UUID | None, field: str = "team_id"
) -> None:
    """Refuse a reference to a team the business does not have (None means no team)."""
    if team_id is not None and await session.scalar(select(Team.id).where(Team.id == team_id)) is None:
        raise Invalid("The team does not exist.", field=field, code="unknown_team")


async def _clean_name(session: AsyncSession, name: str, team_id: uuid.UUID | None = None) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 120:
        raise Invalid("Team name must be 1 to 120 characters.", field="name", code="invalid_length")
    stmt = select(Team.id).where(func.lower(Team.name) == name.lower())
    if team_id is not None:
        stmt = stmt.where(Team.id != team_id)
    if await session.scalar(stmt) is not None:
        raise Conflict("A team with this name already exists.", field="name", code="name_taken")
    return name


async def _check_manager(session: AsyncSession, manager_id: uuid.UUID | None) -> None:
    if manager_id is None:
        return
    active = await session.scalar(
        select(Membership.id).where(Membership.id == manager_id, Membership.is_active.is_(True))
    )
    if active is None:
        raise Invalid("The manager must be an active member.", field="manager_id", code="unknown_member")


async def create_team(session: AsyncSession, command: TeamCreate) -> TeamView:
    name = await _clean_name(session, command.name)
    await _check_manager(session, command.manager_id)
    team = Team(name=name, manager_membership_id=command.manager_id)
    session.add(team)
    await session.flush()
    return team_view(team)


async def update_team(
    session: AsyncSession, team_id: uuid.UUID, change: TeamUpdate, *, expected_version: int | None = None
) -> TeamView:
    team = await _team(session, team_id, lock=True)
    ensure_version(team, expected_version)
    if not isinstance(change.name, msgspec.UnsetType):
        team.name = await _clean_name(session, change.name, team.id)
    if not isinstance(change.manager_id, msgspec.UnsetType):
        await _check_manager(session, change.manager_id)
        team.manager_membership_id = change.manager_id
    await session.flush()
    return team_view(team)


async def delete_team(
    session: AsyncSession, team_id: uuid.UUID, *, expected_version: int | None = None
) -> None:
    """Delete a team; its members stay, without a team."""
    team = await _team(session, team_id, lock=True)
    ensure_version(team, expected_version)
    for member in (await session.scalars(select(Membership).where(Membership.team_id == team.id))).all():
        member.team_id = None  # one by one, so each change is audited
    await session.delete(team)
    await session.flush()
