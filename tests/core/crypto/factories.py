"""Tenants and invitations made through the real services, for the encryption tests."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.tenancy import tenant_context
from core.security.models import Invitation, Role
from frontend_api.services import permission_registry
from tenants.schemas import SignupCommand
from tenants.service import create_tenant_with_owner
from tests.helpers import PASSWORD, unique_email


@dataclass(frozen=True)
class Shop:
    tenant_id: uuid.UUID
    owner_id: uuid.UUID
    role_id: uuid.UUID
    owner_email: str


async def new_shop(db: Database, name: str = "Acme") -> Shop:
    owner_email = unique_email("owner")
    command = SignupCommand(company_name=name, owner_name="Owner", email=owner_email, password=PASSWORD)
    tenant, owner = await create_tenant_with_owner(db, permission_registry(), command, min_password_length=10)
    with tenant_context(tenant.id):
        async with db.transaction() as session:
            role_id = await session.scalar(select(Role.id).where(Role.template == "viewer"))
    assert role_id is not None
    return Shop(tenant.id, owner.id, role_id, owner_email)


async def invite(db: Database, shop: Shop, email: str) -> uuid.UUID:
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            invitation = Invitation(
                email=email,
                role_id=shop.role_id,
                secret_hash=secrets.token_hex(32),
                invited_by=shop.owner_id,
                expires_at=utcnow() + timedelta(days=1),
            )
            session.add(invitation)
            await session.flush()
            return invitation.id


async def emails(db: Database, shop: Shop) -> dict[uuid.UUID, str]:
    """Every invitation email of the shop, read back through the ORM (decrypted)."""
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            return {i.id: i.email for i in (await session.scalars(select(Invitation))).all()}
