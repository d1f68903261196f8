"""Migration 0022 fills the mirror's new columns from the installations made before it, in a
database of its own (migrated to 0021, given rows, then upgraded), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import String, Uuid, column, insert, select, table, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from core.apps.models import AppInstallation, AppTenant
from core.kernel.clock import utcnow
from core.kernel.ids import new_id
from core.kernel.migrate import alembic_config, upgrade
from core.kernel.models import JSONType, Tenant, UTCDateTime
from core.kernel.settings import Settings
from core.security.models import User
from tests.conftest import ON_POSTGRES, PG_OWNER_URL

BEFORE, AFTER = "0021_final_deliveries", "0022_app_tenant_details"
#: ``app_tenants`` as 0017 made it (the model has the columns 0022 adds).
_MIRROR_AT_0021 = table("app_tenants", column("app_id", Uuid()), column("tenant_ref", Uuid()))
#: ``apps`` as 0021 has it, the columns given here (the model has the status of 0023).
_APPS_AT_0021 = table(
    "apps",
    *(column(name, Uuid()) for name in ("id", "developer_tenant_id", "created_by")),
    *(column(name, String()) for name in ("client_id", "client_type", "name", "description")),
    *(column(name, JSONType) for name in ("scopes", "redirect_uris", "webhook_events")),
    column("created_at", UTCDateTime(timezone=True)),
)


async def _fresh_postgres(name: str) -> str:
    server = create_async_engine(PG_OWNER_URL, isolation_level="AUTOCOMMIT")
    try:
        async with server.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await server.dispose()
    return make_url(PG_OWNER_URL).set(database=name).render_as_string(hide_password=False)


async def _drop_postgres(name: str) -> None:
    server = create_async_engine(PG_OWNER_URL, isolation_level="AUTOCOMMIT")
    try:
        async with server.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        await server.dispose()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Settings]:
    """Settings of an empty database (the owner's URL: the migration sees every row)."""
    if not ON_POSTGRES:
        yield Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}")
        return
    name = f"{make_url(PG_OWNER_URL).database}_m0022"
    yield Settings(database_url=asyncio.run(_fresh_postgres(name)))
    asyncio.run(_drop_postgres(name))


async def _rows_before(settings: Settings) -> dict[str, Any]:
    """A developer's app installed by A (active), by B (uninstalled, so not mirrored), and a
    mirror row for C whose installation the migration cannot find."""
    engine = create_async_engine(settings.owner_database_url)
    dev, a, b, c, user, app = (new_id() for _ in range(6))
    installed_at = utcnow() - timedelta(days=3)
    try:
        async with engine.begin() as conn:
            for tenant, name in ((dev, "Dev Co"), (a, "Tenant A"), (b, "Tenant B"), (c, "Tenant C")):
                await conn.execute(insert(Tenant.__table__).values(id=tenant, name=name, slug=name.lower()))
            await conn.execute(
                insert(User.__table__).values(id=user, email="u@x.example", full_name="U", password_hash="x")
            )
            await conn.execute(
                insert(_APPS_AT_0021).values(
                    id=app,
                    developer_tenant_id=dev,
                    client_id=f"app_{app.hex}",
                    client_type="confidential",
                    name="Sync Pro",
                    description="",
                    scopes=["customers:read", "customers:write"],
                    redirect_uris=[],
                    webhook_events=[],
                    created_by=user,
                    created_at=utcnow(),
                )
            )
            for tenant, uninstalled in ((a, None), (b, utcnow())):
                await conn.execute(
                    insert(AppInstallation.__table__).values(
                        tenant_id=tenant,
                        id=new_id(),
                        app_id=app,
                        granted_scopes=["customers:read"],
                        installed_by=user,
                        installed_at=installed_at,
                        uninstalled_at=uninstalled,
                    )
                )
            for tenant in (a, c):
                await conn.execute(insert(_MIRROR_AT_0021).values(app_id=app, tenant_ref=tenant))
    finally:
        await engine.dispose()
    return {"a": a, "c": c, "installed_at": installed_at}


async def _mirror(settings: Settings) -> tuple[dict[uuid.UUID, Any], list[str]]:
    """The mirror's rows by tenant, and its columns."""
    engine = create_async_engine(settings.owner_database_url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text("SELECT * FROM app_tenants"))
            columns = sorted(result.keys())
            if "installed_at" not in columns:
                return {}, columns
            rows = (await conn.execute(select(AppTenant.__table__))).all()
    finally:
        await engine.dispose()
    return {row.tenant_ref: row for row in rows}, columns


def test_the_mirror_gets_each_installations_time_and_scopes(fresh: Settings) -> None:
    upgrade(fresh, BEFORE)
    before = asyncio.run(_rows_before(fresh))
    started = utcnow() - timedelta(seconds=5)
    upgrade(fresh, AFTER)

    mirror, _ = asyncio.run(_mirror(fresh))
    assert set(mirror) == {before["a"], before["c"]}
    a, c = mirror[before["a"]], mirror[before["c"]]
    assert (a.installed_at, a.granted_scopes) == (before["installed_at"], ["customers:read"])
    # An installation the migration cannot see: kept for the relay, dated by the migration.
    assert c.granted_scopes == []
    assert c.installed_at >= started

    command.downgrade(alembic_config(fresh), BEFORE)
    assert asyncio.run(_mirror(fresh))[1] == ["app_id", "tenant_ref"]
