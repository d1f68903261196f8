"""Tenant lifecycle: provisioning, self-service signup, suspension and resumption."""

from __future__ import annotations

import re
import secrets
import uuid

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto.service import provision_tenant_keys
from core.kernel.database import Database
from core.kernel.errors import Conflict, Invalid, NotFound
from core.kernel.ids import new_id
from core.kernel.models import Tenant, TenantStatus
from core.kernel.pagination import Page, PageRequest, paginate
from core.kernel.tenancy import tenant_context
from core.sales.service import seed_default_pipeline
from core.security import accounts
from core.security.models import Membership, PlatformAdminAction, User
from core.security.passwords import verify_password
from core.security.rbac import PermissionRegistry
from core.security.roles import seed_role_templates, set_membership_roles
from core.security.schemas import TokenPair
from core.security.service import Authenticator
from core.security.tenant_settings import clean_tenant_name
from tenants.schemas import SignupCommand, TenantView

__all__ = [
    "create_tenant_with_owner",
    "find_tenant",
    "list_tenants",
    "set_status",
    "signup",
    "to_view",
]


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
    return slug or "tenant"


async def _unique_slug(session: AsyncSession, name: str) -> str:
    base = slugify(name)
    slug = base
    while await session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        slug = f"{base}-{secrets.token_hex(3)}"
    return slug


async def _provision(
    session: AsyncSession, registry: PermissionRegistry, tenant_id: uuid.UUID, name: str, owner: User
) -> tuple[Tenant, Membership]:
    """Create the tenant, its data keys, its role templates, the owner membership and the
    default sales pipeline (in the owner's language). Run in
    ``tenant_id``'s context, inside the caller's transaction."""
    name = clean_tenant_name(name, field="company_name")
    tenant = Tenant(id=tenant_id, name=name, slug=await _unique_slug(session, name))
    session.add(tenant)
    await session.flush()
    await provision_tenant_keys(session)
    roles = await seed_role_templates(session, registry)
    membership = Membership(user_id=owner.id)
    session.add(membership)
    await session.flush()
    await set_membership_roles(session, None, membership, [roles["owner"].id])
    await seed_default_pipeline(session, owner.locale)
    return tenant, membership


async def _owner_account(session: AsyncSession, command: SignupCommand, min_password_length: int) -> User:
    existing = await accounts.find_by_email(session, command.email)
    if existing is not None:
        # A person with an account may start another business, proving it with their password.
        if await verify_password(existing.password_hash, command.password):
            return existing
        raise Conflict(
            "An account with this email already exists; sign in instead.", field="email", code="email_taken"
        )
    return await accounts.create_account(
        session,
        email=command.email,
        full_name=command.owner_name,
        password=command.password,
        min_password_length=min_password_length,
        locale=command.locale,
    )


async def signup(
    db: Database,
    auth: Authenticator,
    registry: PermissionRegistry,
    command: SignupCommand,
    *,
    min_password_length: int,
) -> TokenPair:
    """Self-service signup: tenant (active, free plan), owner, role templates, tokens; one
    transaction."""
    tenant_id = new_id()
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            owner = await _owner_account(session, command, min_password_length)
            tenant, membership = await _provision(session, registry, tenant_id, command.company_name, owner)
            return await auth.issue(session, owner.id, tenant.id, membership.id)


async def create_tenant_with_owner(
    db: Database,
    registry: PermissionRegistry,
    command: SignupCommand,
    *,
    min_password_length: int,
) -> tuple[Tenant, User]:
    """The CLI's way: like signup, without tokens."""
    tenant_id = new_id()
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            owner = await _owner_account(session, command, min_password_length)
            tenant, _ = await _provision(session, registry, tenant_id, command.company_name, owner)
            return tenant, owner


def to_view(tenant: Tenant) -> TenantView:
    return TenantView(
        id=tenant.id,
        name=tenant.name,
        slug=tenant.slug,
        status=tenant.status,
        status_reason=tenant.status_reason,
        plan=tenant.plan,
        require_two_factor=tenant.require_two_factor,
        created_at=tenant.created_at,
    )


async def list_tenants(
    session: AsyncSession, page: PageRequest, query: str | None = None, status: str | None = None
) -> Page[TenantView]:
    stmt = select(Tenant)
    if query:
        pattern = f"%{query.strip().lower()}%"
        stmt = stmt.where(or_(Tenant.name.ilike(pattern), Tenant.slug.ilike(pattern)))
    if status:
        if status not in TenantStatus.ALL:
            raise Invalid(
                f"Status must be one of {', '.join(TenantStatus.ALL)}.", field="status", code="invalid_choice"
            )
        stmt = stmt.where(Tenant.status == status)
    return await paginate(session, stmt, Tenant.id, page, to_view)


async def find_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound()
    return tenant


async def set_status(
    session: AsyncSession, admin_user_id: uuid.UUID, tenant_id: uuid.UUID, status: str, reason: str
) -> Tenant:
    """Suspend or resume a tenant, recording the platform admin's action."""
    tenant = await session.get(Tenant, tenant_id, with_for_update=True)
    if tenant is None:
        raise NotFound()
    if status == TenantStatus.SUSPENDED and not reason.strip():
        raise Invalid(
            "Say why the tenant is suspended; its users will see it.", field="reason", code="required"
        )
    previous = tenant.status
    tenant.status = status
    tenant.status_reason = reason.strip() or None if status == TenantStatus.SUSPENDED else None
    session.add(
        PlatformAdminAction(
            admin_user_id=admin_user_id,
            action=f"tenant.{'suspend' if status == TenantStatus.SUSPENDED else 'resume'}",
            target_tenant_id=tenant.id,
            detail={"from": previous, "to": status, "reason": reason},
        )
    )
    await session.flush()
    return tenant
