"""Roles: seeded from templates, edited by tenant admins, assigned to memberships.

Rules that keep an account governable: the owner role cannot be edited or deleted, only an
owner gives or takes the owner role, nobody hands out more than they hold, and the last
active owner cannot be removed or demoted.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.kernel.concurrency import ensure_version
from core.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from core.kernel.pagination import Page, PageRequest, paginate
from core.security.models import Membership, MembershipRole, Role
from core.security.permissions import ROLE_TEMPLATES
from core.security.principal import Principal
from core.security.rbac import SCOPES, PermissionRegistry

__all__ = [
    "OWNER",
    "RoleCreate",
    "RoleUpdate",
    "RoleView",
    "create_role",
    "delete_role",
    "get_role",
    "list_roles",
    "role_view",
    "seed_role_templates",
    "set_membership_roles",
    "update_role",
]

OWNER = "owner"


async def seed_role_templates(session: AsyncSession, registry: PermissionRegistry) -> dict[str, Role]:
    roles = {
        template: Role(
            name=template,
            description=description,
            template=template,
            grants=registry.template_grants(template),
        )
        for template, description in ROLE_TEMPLATES.items()
    }
    session.add_all(roles.values())
    await session.flush()
    return roles


async def get_role(session: AsyncSession, role_id: uuid.UUID) -> Role:
    role = await session.scalar(select(Role).where(Role.id == role_id))
    if role is None:
        raise NotFound()
    return role


async def owner_role(session: AsyncSession, *, lock: bool = False) -> Role:
    stmt = select(Role).where(Role.template == OWNER)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).one()


def ensure_may_grant(principal: Principal, grants: dict[str, str], field: str) -> None:
    """Nobody hands out a permission, or a wider scope, than they hold themselves."""
    for name, scope in grants.items():
        held = principal.scope(name)
        if held is None or SCOPES.index(held) < SCOPES.index(scope):
            raise Forbidden(
                f"You cannot grant {name} ({scope}) because you do not hold it.",
                field=field,
                code="grant_exceeds_own",
            )


async def active_owner_count(session: AsyncSession, owner: Role, excluding: uuid.UUID | None) -> int:
    stmt = (
        select(func.count())
        .select_from(MembershipRole)
        .join(
            Membership,
            (Membership.id == MembershipRole.membership_id)
            & (Membership.tenant_id == MembershipRole.tenant_id),
        )
        .where(MembershipRole.role_id == owner.id, Membership.is_active.is_(True))
    )
    if excluding is not None:
        stmt = stmt.where(Membership.id != excluding)
    return int(await session.scalar(stmt) or 0)


async def ensure_not_last_owner(session: AsyncSession, membership_id: uuid.UUID) -> None:
    owner = await owner_role(session, lock=True)
    is_owner = await session.scalar(
        select(MembershipRole.id).where(
            MembershipRole.membership_id == membership_id, MembershipRole.role_id == owner.id
        )
    )
    if is_owner and await active_owner_count(session, owner, excluding=membership_id) == 0:
        raise Conflict(
            "This is the last owner of the account; make someone else owner first.",
            code="last_owner",
        )


async def set_membership_roles(
    session: AsyncSession, principal: Principal | None, membership: Membership, role_ids: Iterable[uuid.UUID]
) -> list[Role]:
    """Replace the roles of ``membership``. ``principal`` None means the system (signup)."""
    wanted = list(dict.fromkeys(role_ids))
    if not wanted:
        raise Invalid("A member needs at least one role.", field="roles", code="required")
    roles = list((await session.scalars(select(Role).where(Role.id.in_(wanted)))).all())
    if len(roles) != len(wanted):
        raise Invalid("One of the roles does not exist.", field="roles", code="unknown_role")
    links = (
        await session.scalars(select(MembershipRole).where(MembershipRole.membership_id == membership.id))
    ).all()
    current = {link.role_id for link in links}
    owner = await owner_role(session, lock=True)
    touches_owner = (owner.id in current) != (owner.id in wanted)
    if principal is not None:
        if touches_owner and not principal.can("tenant.transfer_ownership"):
            raise Forbidden(
                "Only an owner can give or take the owner role.", field="roles", code="owner_only"
            )
        for role in roles:
            if role.id not in current:
                ensure_may_grant(principal, role.grants, "roles")
    if owner.id in current and owner.id not in wanted:
        await ensure_not_last_owner(session, membership.id)
    names = {role.id: role.name for role in roles}
    dropped = current - set(wanted)
    if dropped:  # one query for the names of every role taken away
        rows = await session.execute(select(Role.id, Role.name).where(Role.id.in_(dropped)))
        names.update({role_id: name for role_id, name in rows})
    for link in links:
        if link.role_id not in wanted:
            await session.delete(link)
            await _record_role_change(
                session, "member.role_unassigned", membership, link.role_id, names[link.role_id]
            )
    for role_id in wanted:
        if role_id not in current:
            session.add(MembershipRole(membership_id=membership.id, role_id=role_id))
            await _record_role_change(session, "member.role_assigned", membership, role_id, names[role_id])
    await session.flush()
    return roles


async def _record_role_change(
    session: AsyncSession, action: str, membership: Membership, role_id: uuid.UUID, name: str
) -> None:
    await audit.record(
        session,
        action,
        entity_type="memberships",
        entity_id=membership.id,
        details={"user_id": str(membership.user_id), "role_id": str(role_id), "role_name": name},
    )


class RoleView(msgspec.Struct):
    id: uuid.UUID
    name: str
    description: str
    template: str | None
    grants: dict[str, str]
    created_at: datetime
    #: The ETag of the role; send it back in ``If-Match`` to change it safely.
    version: int


class RoleCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    grants: dict[str, str]
    description: str = ""


class RoleUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    grants: dict[str, str] | msgspec.UnsetType = msgspec.UNSET


def role_view(role: Role) -> RoleView:
    return RoleView(
        id=role.id,
        name=role.name,
        description=role.description,
        template=role.template,
        grants=dict(sorted(role.grants.items())),
        created_at=role.created_at,
        version=role.version,
    )


async def list_roles(session: AsyncSession, page: PageRequest) -> Page[RoleView]:
    return await paginate(session, select(Role), Role.id, page, role_view, sortable={"name": Role.name})


def _clean_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 80:
        raise Invalid("Role name must be 1 to 80 characters.", field="name", code="invalid_length")
    return name


async def _ensure_name_free(session: AsyncSession, name: str, role_id: uuid.UUID | None = None) -> None:
    stmt = select(Role.id).where(func.lower(Role.name) == name.lower())
    if role_id is not None:
        stmt = stmt.where(Role.id != role_id)
    if await session.scalar(stmt) is not None:
        raise Conflict("A role with this name already exists.", field="name", code="name_taken")


async def create_role(
    session: AsyncSession, registry: PermissionRegistry, principal: Principal, command: RoleCreate
) -> RoleView:
    name = _clean_name(command.name)
    grants = registry.validate_grants(command.grants)
    ensure_may_grant(principal, grants, "grants")
    await _ensure_name_free(session, name)
    role = Role(name=name, description=command.description.strip(), grants=grants)
    session.add(role)
    await session.flush()
    return role_view(role)


async def update_role(
    session: AsyncSession,
    registry: PermissionRegistry,
    principal: Principal,
    role_id: uuid.UUID,
    change: RoleUpdate,
    *,
    expected_version: int | None = None,
) -> RoleView:
    role = await get_role(session, role_id)
    ensure_version(role, expected_version)
    if role.template == OWNER:
        raise Conflict(
            "The owner role always holds every permission; it cannot be edited.", code="owner_role_fixed"
        )
    if not isinstance(change.name, msgspec.UnsetType):
        role.name = _clean_name(change.name)
        await _ensure_name_free(session, role.name, role.id)
    if not isinstance(change.description, msgspec.UnsetType):
        role.description = change.description.strip()
    if not isinstance(change.grants, msgspec.UnsetType):
        grants = registry.validate_grants(change.grants)
        added = {k: v for k, v in grants.items() if role.grants.get(k) != v}
        ensure_may_grant(principal, added, "grants")
        if grants != role.grants:
            await audit.record(
                session,
                "role.grants_changed",
                entity_type="roles",
                entity_id=role.id,
                details={"role_name": role.name, "before": dict(role.grants), "after": grants},
            )
        role.grants = grants
    await session.flush()
    return role_view(role)


async def delete_role(
    session: AsyncSession, role_id: uuid.UUID, *, expected_version: int | None = None
) -> None:
    role = await get_role(session, role_id)
    ensure_version(role, expected_version)
    if role.template == OWNER:
        raise Conflict("The owner role cannot be deleted.", code="owner_role_fixed")
    in_use = await session.scalar(
        select(func.count()).select_from(MembershipRole).where(MembershipRole.role_id == role.id)
    )
    if in_use:
        raise Conflict(
            f"The role is held by {in_use} member(s); give them another role first.", code="role_in_use"
        )
    await session.delete(role)
    await session.flush()
