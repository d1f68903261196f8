"""PostgreSQL: apps are readable by everyone (a client is found before any tenant is known)
and writable by their developer tenant only; installations and tokens are walled per tenant.
Raw SQL, so the ORM filter plays no part."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from tests.app_helpers import install, register_app
from tests.helpers import signup

pytestmark = pytest.mark.postgres


def _in(settings: Settings, tenant_id: str | None, sql: str, **params: Any) -> Any:
    async def run() -> Any:
        db = Database(settings.database_url)
        try:
            with tenant_context(uuid.UUID(tenant_id) if tenant_id else None):
                async with db.transaction() as session:
                    result = await session.execute(text(sql), params)
                    return result.rowcount if result.returns_rows is False else result.all()
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_an_app_is_readable_by_all_but_writable_by_its_developer_only(
    client: TestClient[Any], settings: Settings
) -> None:
    dev, other = signup(client, "Dev Co"), signup(client, "Other Co")
    app = register_app(client, dev["headers"])
    for tenant in (None, other["tenant_id"], dev["tenant_id"]):
        assert _in(settings, tenant, "SELECT name FROM apps WHERE id = :id", id=app["id"]) == [("Sync Pro",)]
    assert (
        _in(settings, other["tenant_id"], "UPDATE apps SET name = 'Hijacked' WHERE id = :id", id=app["id"])
        == 0
    )
    assert _in(settings, None, "UPDATE apps SET name = 'Hijacked' WHERE id = :id", id=app["id"]) == 0
    assert _in(settings, other["tenant_id"], "DELETE FROM apps WHERE id = :id", id=app["id"]) == 0
    # The developer cannot hand its app over to another tenant either.
    with pytest.raises(Exception, match="row-level security"):
        _in(
            settings,
            dev["tenant_id"],
            "UPDATE apps SET developer_tenant_id = :other WHERE id = :id",
            other=other["tenant_id"],
            id=app["id"],
        )
    with pytest.raises(Exception, match="row-level security"):
        _in(
            settings,
            other["tenant_id"],
            "INSERT INTO apps (id, version, developer_tenant_id, client_id, client_type, name, description, "
            "redirect_uris, scopes, webhook_events, created_by, created_at) "
            "SELECT gen_random_uuid(), 1, :dev, 'app_planted', 'public', 'Planted', '', '[]', '[]', '[]', "
            "created_by, now() FROM apps WHERE id = :id",
            dev=dev["tenant_id"],
            id=app["id"],
        )
    assert (
        _in(settings, dev["tenant_id"], "UPDATE apps SET description = 'ok' WHERE id = :id", id=app["id"])
        == 1
    )


def test_installations_and_tokens_are_walled_per_tenant(client: TestClient[Any], settings: Settings) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    a, b = signup(client, "Tenant A"), signup(client, "Tenant B")
    install(client, a["headers"], app)
    for table in ("app_installations", "app_tokens", "app_authorization_codes"):
        assert _in(settings, b["tenant_id"], f"SELECT count(*) FROM {table}") == [(0,)]
        assert _in(settings, None, f"SELECT count(*) FROM {table}") == [(0,)]
        assert _in(settings, a["tenant_id"], f"SELECT count(*) FROM {table}")[0][0] >= 1
