"""Platform admins find, suspend and resume tenants; a suspended tenant reads but cannot write."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import select

from core.kernel.database import Database
from core.kernel.settings import Settings
from core.security.models import PlatformAdminAction
from tests.helpers import PASSWORD, platform_admin, signup


def test_platform_admins_list_and_search_tenants(client: TestClient[Any], settings: Settings) -> None:
    admin = platform_admin(client, settings)
    signup(client, "Alpha Trading")
    signup(client, "Beta Foods")
    signup(client, "Alpha Logistics")
    found = client.get("/api/platform/tenants?q=alpha", headers=admin).json()
    assert sorted(t["name"] for t in found["items"]) == ["Alpha Logistics", "Alpha Trading"]
    first = client.get("/api/platform/tenants?limit=2", headers=admin).json()
    second = client.get(f"/api/platform/tenants?limit=2&cursor={first['next_cursor']}", headers=admin).json()
    assert len(first["items"]) == 2
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    shown = client.get(f"/api/platform/tenants/{found['items'][0]['id']}", headers=admin).json()
    assert shown["plan"] == "free"
    assert shown["status"] == "active"


def test_tenant_members_are_not_platform_admins(client: TestClient[Any]) -> None:
    owner = signup(client)
    assert client.get("/api/platform/tenants", headers=owner["headers"]).status_code == 401
    response = client.post("/api/platform/auth/token", json={"email": owner["email"], "password": PASSWORD})
    assert response.status_code == 401


def test_a_platform_token_is_not_a_tenant_token(client: TestClient[Any], settings: Settings) -> None:
    admin = platform_admin(client, settings)
    assert client.get("/api/v1/me", headers=admin).status_code == 401


def test_a_suspended_tenant_reads_but_every_write_is_423(client: TestClient[Any], settings: Settings) -> None:
    admin = platform_admin(client, settings)
    owner = signup(client)
    suspended = client.post(
        f"/api/platform/tenants/{owner['tenant_id']}/suspend",
        headers=admin,
        json={"reason": "Payment overdue"},
    )
    assert suspended.status_code == 200
    assert suspended.json()["status"] == "suspended"

    assert client.get("/api/v1/roles", headers=owner["headers"]).status_code == 200
    assert (
        client.post("/api/v1/auth/token", json={"email": owner["email"], "password": PASSWORD}).status_code
        == 201
    )
    write = client.post("/api/v1/teams", headers=owner["headers"], json={"name": "New"})
    assert write.status_code == 423
    assert write.json()["code"] == "tenant_suspended"
    assert "Payment overdue" in write.json()["detail"]

    client.post(f"/api/platform/tenants/{owner['tenant_id']}/resume", headers=admin, json={})
    assert client.post("/api/v1/teams", headers=owner["headers"], json={"name": "New"}).status_code == 201


def test_suspending_needs_a_reason(client: TestClient[Any], settings: Settings) -> None:
    admin = platform_admin(client, settings)
    owner = signup(client)
    response = client.post(f"/api/platform/tenants/{owner['tenant_id']}/suspend", headers=admin, json={})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "reason"


def test_platform_admin_actions_are_logged(client: TestClient[Any], settings: Settings) -> None:
    admin = platform_admin(client, settings)
    owner = signup(client)
    client.post(
        f"/api/platform/tenants/{owner['tenant_id']}/suspend", headers=admin, json={"reason": "Abuse"}
    )
    client.post(f"/api/platform/tenants/{owner['tenant_id']}/resume", headers=admin, json={})

    async def actions() -> list[tuple[str, dict[str, Any]]]:
        db = Database(settings.database_url)
        try:
            async with db.transaction() as session:
                rows = await session.scalars(
                    select(PlatformAdminAction).order_by(PlatformAdminAction.created_at)
                )
                return [(r.action, r.detail) for r in rows if str(r.target_tenant_id) == owner["tenant_id"]]
        finally:
            await db.dispose()

    logged = asyncio.run(actions())
    assert [action for action, _ in logged] == ["tenant.suspend", "tenant.resume"]
    assert logged[0][1]["reason"] == "Abuse"


def test_an_unknown_tenant_is_404_for_platform_admins(client: TestClient[Any], settings: Settings) -> None:
    admin = platform_admin(client, settings)
    response = client.get("/api/platform/tenants/01234567-89ab-7def-8123-456789abcdef", headers=admin)
    assert response.status_code == 404
