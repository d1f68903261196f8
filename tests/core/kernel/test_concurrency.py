"""The version column refuses a write based on a stale read, even without If-Match."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from core.kernel.concurrency import ensure_version
from core.kernel.database import Database
from core.kernel.errors import PreconditionFailed
from core.kernel.models import Tenant
from core.kernel.tenancy import tenant_context
from core.security.models import Team

pytestmark = pytest.mark.anyio


async def _tenant_with_team(db: Database) -> Tenant:
    async with db.transaction() as session:
        tenant = Tenant(name="Acme", slug="acme-concurrency")
        session.add(tenant)
    with tenant_context(tenant.id):
        async with db.transaction() as session:
            session.add(Team(name="North"))
    return tenant


async def test_a_write_based_on_a_stale_read_does_not_land(db: Database) -> None:
    tenant = await _tenant_with_team(db)
    with tenant_context(tenant.id):
        async with db.sessions() as slow:
            stale = (await slow.scalars(select(Team))).one()
            async with db.transaction() as fast:
                (await fast.scalars(select(Team))).one().name = "South"
            stale.name = "Lost"
            with pytest.raises(StaleDataError):
                await slow.commit()
        async with db.transaction() as session:
            team = (await session.scalars(select(Team))).one()
    assert (team.name, team.version) == ("South", 2)


async def test_ensure_version_refuses_another_version(db: Database) -> None:
    tenant = await _tenant_with_team(db)
    with tenant_context(tenant.id):
        async with db.transaction() as session:
            team = (await session.scalars(select(Team))).one()
            ensure_version(team, 1)
            ensure_version(team, None)
            with pytest.raises(PreconditionFailed):
                ensure_version(team, 2)
