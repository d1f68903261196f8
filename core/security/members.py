"""Members of a tenant: who belongs, with which roles, in which team, at which work mobile.

A member's phone is personal data: encrypted at rest, shown in full to the member and to
whoever may manage members (``members.manage``), masked (``+86 138****5678``) to the others."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from core.crypto.phones import mask_phone, normalized_phone
from core.kernel.concurrency import ensure_version, touch
from core.kernel.errors import Conflict, Invalid, NotFound
from core.kernel.pagination import Page, PageRequest, paginate
from core.security.models import Membership, MembershipRole, Role, User
from core.security.principal import Principal
from core.security.roles import ensure_not_last_owner, set_membership_roles
from core.security.scope import owner_filter
from core.security.teams import ensure_team_exists

READ = "members.read"
MANAGE = "members.manage"

__all__ = [
    "MemberUpdate",
    "MemberView",
    "add_member",
    "deactivate_member",
    "get_member",
    "list_members",
    "set_own_phone",
    "update_member",
]


class MemberView(msgspec.Struct):
    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    full_name: str
    is_active: bool
    team_id: uuid.UUID | None
    roles: list[uuid.UUID]
    #: Work mobile in E.164; masked unless it is the caller's own or they manage members.
    phone: str | None
    #: True when ``phone`` is masked for this caller.
    masked: bool
    created_at: datetime
    version: int


class MemberUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    roles: list[uuid.UUID] | msgspec.UnsetType = msgspec.UNSET
    team_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET
    is_active: bool | msgspec.UnsetType = msgspec.UNSET
    #: The member's work mobile (reminders are texted to it); ``null`` or empty clears it.
    phone: str | msgspec.UnsetType | None = msgspec.UNSET


async def add_member(
    session: AsyncSession, principal: Principal | None, user: User, role_ids: list[uuid.UUID]
) -> Membership:
    """Add ``user`` to the current tenant with ``role_ids`` (or reactivate them)."""
    membership = await session.scalar(select(Membership).where(Membership.user_id == user.id))
    if membership is not None and membership.is_active:
        raise Conflict("This person is already a member.", field="email", code="already_member")
    if membership is None:
        membership = Membership(user_id=user.id)
        session.add(membership)
    membership.is_active = True
    await session.flush()
    await set_membership_roles(session, principal, membership, role_ids)
    return membership


async def role_ids_by_name(session: AsyncSession, names: list[str]) -> list[uuid.UUID]:
    rows = (await session.execute(select(Role.name, Role.id).where(Role.name.in_(names)))).all()
    found = {row.name: row.id for row in rows}
    missing = [name for name in names if name not in found]
    if missing:
        raise Invalid(f"Unknown role: {', '.join(missing)}.", field="roles", code="unknown_role")
    return [found[name] for name in names]


def _phone_view(principal: Principal, membership: Membership) -> tuple[str | None, bool]:
    if membership.id == principal.membership_id or principal.can(MANAGE):
        return (str(membership.phone) if membership.phone else None), False
    return mask_phone(membership.phone), True


async def _views(
    session: AsyncSession, principal: Principal, memberships: list[Membership]
) -> list[MemberView]:
    if not memberships:
        return []
    ids = [m.id for m in memberships]
    users = {
        u.id: u
        for u in (
            await session.scalars(select(User).where(User.id.in_({m.user_id for m in memberships})))
        ).all()
    }
    roles: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in ids}
    for link in (
        await session.scalars(select(MembershipRole).where(MembershipRole.membership_id.in_(ids)))
    ).all():
        roles[link.membership_id].append(link.role_id)
    return [
        MemberView(
            id=m.id,
            user_id=m.user_id,
            email=users[m.user_id].email,
            full_name=users[m.user_id].full_name,
            is_active=m.is_active,
            team_id=m.team_id,
            roles=sorted(roles[m.id]),
            phone=phone,
            masked=masked,
            created_at=m.created_at,
            version=m.version,
        )
        for m in memberships
        for phone, masked in [_phone_view(principal, m)]
    ]


async def list_members(
    session: AsyncSession, principal: Principal, page: PageRequest, team_id: uuid.UUID | None = None
) -> Page[MemberView]:
    """Members within the caller's ``members.read`` scope (own: themselves; team: their teams)."""
    stmt = (
        select(Membership)
        .options(undefer(Membership.phone))
        .where(await owner_filter(session, principal, READ, Membership.user_id))
    )
    if team_id is not None:
        stmt = stmt.where(Membership.team_id == team_id)
    result = await paginate(
        session, stmt, Membership.id, page, lambda m: m, sortable={"created_at": Membership.created_at}
    )
    return Page(items=await _views(session, principal, result.items), next_cursor=result.next_cursor)


async def _membership(session: AsyncSession, membership_id: uuid.UUID, *, lock: bool = False) -> Membership:
    stmt = select(Membership).options(undefer(Membership.phone)).where(Membership.id == membership_id)
    if lock:
        stmt = stmt.with_for_update()
    membership = await session.scalar(stmt)
    if membership is None:
        raise NotFound()
    return membership


async def get_member(session: AsyncSession, principal: Principal, membership_id: uuid.UUID) -> MemberView:
    """One member, if within the caller's ``members.read`` scope; otherwise not found."""
    membership = await _membership(session, membership_id)
    in_scope = await session.scalar(
        select(Membership.id).where(
            Membership.id == membership.id, await owner_filter(session, principal, READ, Membership.user_id)
        )
    )
    if in_scope is None:
        raise NotFound()
    return (await _views(session, principal, [membership]))[0]


async def update_member(
    session: AsyncSession,
    principal: Principal,
    membership_id: uuid.UUID,
    change: MemberUpdate,
    *,
    expected_version: int | None = None,
) -> MemberView:
    membership = await _membership(session, membership_id, lock=True)
    ensure_version(membership, expected_version)
    if not isinstance(change.team_id, msgspec.UnsetType):
        await ensure_team_exists(session, change.team_id)
        membership.team_id = change.team_id
    if not isinstance(change.roles, msgspec.UnsetType):
        await set_membership_roles(session, principal, membership, change.roles)
    if not isinstance(change.phone, msgspec.UnsetType):
        membership.phone = normalized_phone(session, change.phone, "phone")
    if not isinstance(change.is_active, msgspec.UnsetType) and change.is_active != membership.is_active:
        if not change.is_active:
            await _deactivate(session, principal, membership)
        membership.is_active = change.is_active
    if change.roles is not msgspec.UNSET and membership not in session.dirty:
        touch(membership)  # the roles live in another table; the member's ETag must change too
    await session.flush()
    return (await _views(session, principal, [membership]))[0]


async def _deactivate(session: AsyncSession, principal: Principal, membership: Membership) -> None:
    if membership.id == principal.membership_id:
        raise Conflict("You cannot remove yourself; ask another admin.", code="cannot_remove_self")
    await ensure_not_last_owner(session, membership.id)


async def deactivate_member(
    session: AsyncSession,
    principal: Principal,
    membership_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> None:
    """Remove a person from the tenant. Their history stays; they can no longer sign in here."""
    membership = await _membership(session, membership_id, lock=True)
    ensure_version(membership, expected_version)
    if membership.is_active:
        await _deactivate(session, principal, membership)
        membership.is_active = False
    await session.flush()


async def set_own_phone(session: AsyncSession, principal: Principal, phone: str | None) -> str | None:
    """Set (or, with ``None`` or an empty value, clear) the caller's own work mobile in this
    business, and return it in E.164.

    Raises:
        Invalid: not a phone number (``invalid_phone``, field ``phone``).
    """
    if principal.membership_id is None:
        raise NotFound()
    normalized = normalized_phone(session, phone, "phone")
    membership = await _membership(session, principal.membership_id, lock=True)
    if membership.phone != normalized:
        membership.phone = normalized
    await session.flush()
    return normalized
