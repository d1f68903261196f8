"""The demo tenant `make demo` seeds: an owner, a sales manager with a team, two reps, and a
year of their work (tenants/demo_data.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from core.kernel.database import Database
from core.kernel.models import Tenant
from core.kernel.tenancy import tenant_context
from core.security import accounts
from core.security.members import add_member, role_ids_by_name
from core.security.models import Team
from core.security.rbac import PermissionRegistry
from tenants.demo_data import DemoStaff, seed_demo_data
from tenants.schemas import SignupCommand
from tenants.service import create_tenant_with_owner

__all__ = ["DEMO_EMAIL", "DEMO_PASSWORD", "DemoLogin", "seed_demo"]

DEMO_EMAIL = "owner@demo.example.com"
DEMO_PASSWORD = "huike-demo-2026"  # noqa: S105 - printed by `huike demo` on purpose
DEMO_COMPANY = "汇客演示贸易 Huike Demo Trading"
_STAFF = [
    ("manager@demo.example.com", "王芳 Wang Fang", "sales_manager"),
    ("rep1@demo.example.com", "张伟 Zhang Wei", "sales_rep"),
    ("rep2@demo.example.com", "Emily Chen", "sales_rep"),
]


@dataclass(frozen=True, slots=True)
class DemoLogin:
    email: str
    password: str
    tenant_slug: str
    created: bool


async def seed_demo(db: Database, registry: PermissionRegistry, min_password_length: int) -> DemoLogin:
    """Create the demo tenant once; later runs find it and change nothing."""
    async with db.transaction() as session:
        existing = await accounts.find_by_email(session, DEMO_EMAIL)
        if existing is not None:
            slug = await session.scalar(select(Tenant.slug).where(Tenant.name == DEMO_COMPANY))
            return DemoLogin(DEMO_EMAIL, DEMO_PASSWORD, slug or "", created=False)
    tenant, owner = await create_tenant_with_owner(
        db,
        registry,
        SignupCommand(
            company_name=DEMO_COMPANY, owner_name="李雷 Li Lei", email=DEMO_EMAIL, password=DEMO_PASSWORD
        ),
        min_password_length=min_password_length,
    )
    people: dict[str, uuid.UUID] = {}
    with tenant_context(tenant.id):
        async with db.transaction() as session:
            team = Team(name="华东销售组 East China Sales")
            session.add(team)
            await session.flush()
            for email, name, role in _STAFF:
                user = await accounts.create_account(
                    session,
                    email=email,
                    full_name=name,
                    password=DEMO_PASSWORD,
                    min_password_length=min_password_length,
                )
                membership = await add_member(session, None, user, await role_ids_by_name(session, [role]))
                membership.team_id = team.id
                people[email] = user.id
                if role == "sales_manager":
                    team.manager_membership_id = membership.id
            await session.flush()
    staff = DemoStaff(
        owner=owner.id,
        manager=people[_STAFF[0][0]],
        reps=[people[email] for email, _, role in _STAFF if role == "sales_rep"],
    )
    await seed_demo_data(db, tenant.id, staff)
    return DemoLogin(DEMO_EMAIL, DEMO_PASSWORD, tenant.slug, created=True)
