"""The periodic purge removes app codes and tokens a day past their expiry, in every tenant,
and nothing that is still live or only just expired."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select, update

from core.apps.jobs import GRACE
from core.apps.models import App, AppAuthorizationCode, AppInstallation, AppStatus, AppTenant, AppToken
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.settings import Settings
from frontend_api.services import job_registry
from tests.app_helpers import install, register_app
from tests.core.jobs.test_housekeeping import _run
from tests.helpers import signup

pytestmark = pytest.mark.anyio


@pytest.fixture
def two_installations(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    for company in ("Tenant A", "Tenant B"):
        install(client, signup(client, company)["headers"], app)


async def _all(db: Database, model: Any) -> list[Any]:
    async with db.transaction() as session:
        return list((await session.scalars(select(model).execution_options(all_tenants=True))).all())


async def test_long_expired_codes_and_tokens_are_purged_in_every_tenant(
    two_installations: None, settings: Settings, db: Database, rls_free_db: Database
) -> None:
    assert "apps.purge_expired" in job_registry().periodic
    tokens = await _all(rls_free_db, AppToken)
    assert len(tokens) == 4  # an access and a refresh token in each tenant
    access = [t.id for t in tokens if t.kind == "access"]
    async with rls_free_db.transaction() as session:
        for model in (AppToken, AppAuthorizationCode):
            await session.execute(
                update(model)
                .values(expires_at=utcnow() - GRACE - timedelta(seconds=1))
                .where(model.id.in_(access) if model is AppToken else model.id.is_not(None))
                .execution_options(all_tenants=True)
            )

    await _run(settings, db, "apps.purge_expired")

    left = await _all(rls_free_db, AppToken)
    assert {t.kind for t in left} == {"refresh"}
    assert len({t.tenant_id for t in left}) == 2
    assert await _all(rls_free_db, AppAuthorizationCode) == []


async def test_the_purge_uninstalls_what_a_deleted_apps_own_job_missed(
    two_installations: None, settings: Settings, db: Database, rls_free_db: Database
) -> None:
    # As if both businesses had installed the app while its deletion committed: deleted, and
    # no job of the deletion's for them.
    async with rls_free_db.transaction() as session:
        await session.execute(update(App).values(status=AppStatus.DELETED))
    assert {i.uninstalled_at for i in await _all(rls_free_db, AppInstallation)} == {None}

    await _run(settings, db, "apps.purge_expired")

    installations = await _all(rls_free_db, AppInstallation)
    assert len(installations) == 2
    assert all(i.uninstalled_at is not None for i in installations)
    assert {t.revoked_at is not None for t in await _all(rls_free_db, AppToken)} == {True}
    assert await _all(rls_free_db, AppTenant) == []
