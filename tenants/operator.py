"""Operator tasks run from the ``huike`` command line."""

from __future__ import annotations

import contextlib
import uuid

from sqlalchemy import or_, select

from core.kernel.database import Database
from core.kernel.errors import NotFound
from core.kernel.models import Tenant
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.security import accounts
from core.security.members import add_member, role_ids_by_name
from core.security.models import PlatformAdmin, User

__all__ = ["add_user_to_tenant", "create_platform_admin", "find_tenant_by_ref"]


async def find_tenant_by_ref(db: Database, ref: str) -> Tenant:
    async with db.transaction() as session:
        condition = Tenant.slug == ref
        with contextlib.suppress(ValueError):
            condition = or_(condition, Tenant.id == uuid.UUID(ref))
        tenant = await session.scalar(select(Tenant).where(condition))
    if tenant is None:
        raise NotFound(f"No tenant {ref!r}.")
    return tenant


async def _account(db: Database, settings: Settings, email: str, name: str, password: str) -> User:
    async with db.transaction() as session:
        user = await accounts.find_by_email(session, email)
        if user is None:
            user = await accounts.create_account(
                session,
                email=email,
                full_name=name,
                password=password,
                min_password_length=settings.password_min_length,
            )
        return user


async def add_user_to_tenant(
    db: Database, settings: Settings, tenant_ref: str, email: str, name: str, password: str, roles: list[str]
) -> None:
    tenant = await find_tenant_by_ref(db, tenant_ref)
    user = await _account(db, settings, email, name, password)
    with tenant_context(tenant.id):
        async with db.transaction() as session:
            await add_member(session, None, user, await role_ids_by_name(session, roles))


async def create_platform_admin(
    db: Database, settings: Settings, email: str, name: str, password: str
) -> None:
    user = await _account(db, settings, email, name, password)
    async with db.transaction() as session:
        if await session.get(PlatformAdmin, user.id) is None:
            session.add(PlatformAdmin(user_id=user.id))
