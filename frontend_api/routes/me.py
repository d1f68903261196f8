"""The caller: account, tenant, roles and effective permissions."""

from __future__ import annotations

from litestar import get
from sqlalchemy import select

from core.kernel.errors import Forbidden
from core.kernel.models import Tenant
from core.security.models import MembershipRole, Role, User
from core.security.schemas import MeView, TenantChoice
from core.security.service import tenant_choices
from frontend_api.deps import PrincipalDep, SessionDep
from frontend_api.security import AUTHENTICATED

__all__ = ["me"]


@get(
    "/api/v1/me",
    permission=AUTHENTICATED,
    two_factor_setup=True,
    tags=["auth"],
    summary="Who am I, in which tenant, with which permissions",
)
async def me(session: SessionDep, principal: PrincipalDep) -> MeView:
    if principal.user_id is None or principal.membership_id is None:
        raise Forbidden("Only a person has a profile; API keys do not.", code="not_a_person")
    user = await session.get_one(User, principal.user_id)
    tenant = await session.get_one(Tenant, principal.tenant_id)
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
    )
