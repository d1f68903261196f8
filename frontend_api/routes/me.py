"""The caller: account, tenant, roles and effective permissions; their own work mobile."""

from __future__ import annotations

import msgspec
from litestar import get, patch
from litestar.params import JSONBody
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from core.kernel.errors import Forbidden
from core.kernel.models import Tenant
from core.security.members import set_own_phone
from core.security.models import Membership, MembershipRole, Role, User
from core.security.principal import Principal
from core.security.schemas import MeView, ProfileUpdate, TenantChoice
from core.security.service import tenant_choices
from frontend_api.deps import PrincipalDep, SessionDep
from frontend_api.security import AUTHENTICATED

__all__ = ["me", "update_me"]


async def _me(session: AsyncSession, principal: Principal) -> MeView:
    if principal.user_id is None or principal.membership_id is None:
        raise Forbidden("Only a person has a profile; API keys do not.", code="not_a_person")
    user = await session.get_one(User, principal.user_id)
    tenant = await session.get_one(Tenant, principal.tenant_id)
    membership = await session.scalar(
        select(Membership).options(undefer(Membership.phone)).where(Membership.id == principal.membership_id)
    )
    roles = (
        await session.scalars(
            select(Role.name)
            .join(
                MembershipRole,
                (MembershipRole.role_id == Role.id) & (MembershipRole.tenant_id == Role.tenant_id),
            )
            .where(MembershipRole.membership_id == principal.membership_id)
            .order_by(Role.name)
        )
    ).all()
    return MeView(
        user_id=user.id,
        email=user.email,
        full_name=user.full_name,
        locale=user.locale,
        two_factor_enabled=user.totp_enabled,
        tenant=TenantChoice(id=tenant.id, slug=tenant.slug, name=tenant.name),
        tenant_status=tenant.status,
        membership_id=principal.membership_id,
        team_id=principal.team_id,
        roles=list(roles),
        permissions=dict(sorted(principal.grants.items())),
        tenants=await tenant_choices(session, user.id),
        created_at=user.created_at,
        phone=str(membership.phone) if membership is not None and membership.phone else None,
    )


@get(
    "/api/v1/me",
    permission=AUTHENTICATED,
    two_factor_setup=True,
    tags=["auth"],
    summary="Who am I, in which tenant, with which permissions",
)
async def me(session: SessionDep, principal: PrincipalDep) -> MeView:
    return await _me(session, principal)


@patch(
    "/api/v1/me",
    permission=AUTHENTICATED,
    tags=["auth"],
    summary="Set or clear my work mobile in this business (for text-message reminders)",
)
async def update_me(session: SessionDep, principal: PrincipalDep, data: JSONBody[ProfileUpdate]) -> MeView:
    if principal.user_id is None or principal.membership_id is None:
        raise Forbidden("Only a person has a profile; API keys do not.", code="not_a_person")
    if not isinstance(data.phone, msgspec.UnsetType):
        await set_own_phone(session, principal, data.phone)
    return await _me(session, principal)
