"""API keys: shown once, stored hashed, acting with their own grants inside their tenant."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import text, update

from core.kernel.database import Database
from core.kernel.models import Tenant, TenantStatus
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.security.models import ApiKey
from tests.helpers import add_member, bearer, signup

KEYS = "/api/v1/api-keys"


def _run(settings: Settings, work: Any) -> Any:
    async def go() -> Any:
        db = Database(settings.database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(go())


def _create(client: TestClient[Any], headers: dict[str, str], grants: dict[str, str]) -> Any:
    return client.post(KEYS, json={"name": "ERP sync", "grants": grants}, headers=headers)


def _key(client: TestClient[Any], headers: dict[str, str], grants: dict[str, str]) -> dict[str, Any]:
    response = _create(client, headers, grants)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _api_key_rows(settings: Settings, tenant_id: str) -> list[dict[str, Any]]:
    async def read(db: Database) -> list[dict[str, Any]]:
        with tenant_context(uuid.UUID(tenant_id)):
            async with db.transaction() as session:
                rows = await session.execute(text("SELECT * FROM api_keys"))
                return [dict(row._mapping) for row in rows]

    result: list[dict[str, Any]] = _run(settings, read)
    return result


def test_a_new_key_is_shown_once_and_never_listed(client: TestClient[Any]) -> None:
    owner = signup(client)
    created = _key(client, owner["headers"], {"roles.read": "all"})
    key = created["key"]
    assert key.startswith(f"hk_{uuid.UUID(owner['tenant_id']).hex}_{uuid.UUID(created['id']).hex}_")
    assert created["grants"] == {"roles.read": "all"}
    assert created["prefix"].startswith("hk_")
    secret = key.split("_", 3)[3]
    assert f"hk_…{secret}".startswith(created["prefix"])
    assert len(created["prefix"]) <= 10
    assert created["revoked_at"] is None
    assert created["last_used_at"] is None

    listed = client.get(KEYS, headers=owner["headers"])
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]
    shown = client.get(f"{KEYS}/{created['id']}", headers=owner["headers"])
    for item in (*listed.json()["items"], shown.json()):
        assert "key" not in item
    for response in (listed, shown):
        assert secret not in response.text
    assert shown.json()["prefix"] == created["prefix"]


def test_the_list_is_paginated(client: TestClient[Any]) -> None:
    owner = signup(client)
    ids = [_key(client, owner["headers"], {"roles.read": "all"})["id"] for _ in range(3)]
    first = client.get(f"{KEYS}?limit=2", headers=owner["headers"]).json()
    second = client.get(f"{KEYS}?limit=2&cursor={first['next_cursor']}", headers=owner["headers"]).json()
    assert [i["id"] for i in first["items"] + second["items"]] == ids
    assert second["next_cursor"] is None


def test_the_database_never_holds_the_plaintext_key(client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client)
    key = _key(client, owner["headers"], {"roles.read": "all"})["key"]
    secret = key.split("_", 3)[3]
    rows = _api_key_rows(settings, owner["tenant_id"])
    assert len(rows) == 1
    for column, value in rows[0].items():
        assert secret not in str(value), column
    assert rows[0]["secret_hash"] == hashlib.sha256(key.encode()).hexdigest()


def test_a_key_works_on_a_route_its_grants_allow(client: TestClient[Any]) -> None:
    owner = signup(client)
    key = _key(client, owner["headers"], {"roles.read": "all"})["key"]
    response = client.get("/api/v1/roles", headers=bearer(key))
    assert response.status_code == 200, response.text
    assert "owner" in {role["name"] for role in response.json()["items"]}


def test_a_key_is_refused_where_its_grants_do_not_reach(client: TestClient[Any]) -> None:
    owner = signup(client)
    key = _key(client, owner["headers"], {"roles.read": "all"})["key"]
    for response in (
        client.get("/api/v1/members", headers=bearer(key)),
        client.post("/api/v1/roles", json={"name": "X", "grants": {}}, headers=bearer(key)),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "permission_denied"


def test_routes_for_a_person_refuse_a_key_with_not_a_person(client: TestClient[Any]) -> None:
    owner = signup(client)
    key = _key(client, owner["headers"], {"roles.read": "all", "api_keys.manage": "all"})["key"]
    for response in (
        client.get("/api/v1/me", headers=bearer(key)),
        client.post("/api/v1/auth/switch", json={"tenant": owner["tenant_id"]}, headers=bearer(key)),
        client.post("/api/v1/auth/logout", headers=bearer(key)),
        _create(client, bearer(key), {"roles.read": "all"}),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "not_a_person"


def test_a_key_can_only_be_created_with_api_keys_manage(client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client)
    manager = add_member(client, settings, owner["tenant_id"], "sales_manager")["headers"]
    response = _create(client, manager, {"roles.read": "all"})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert client.get(KEYS, headers=manager).status_code == 403


def test_an_admin_cannot_grant_a_permission_only_owners_hold(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    admin = add_member(client, settings, owner["tenant_id"], "admin")["headers"]
    response = _create(client, admin, {"roles.read": "all", "tenant.transfer_ownership": "all"})
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "grant_exceeds_own"
    assert response.json()["errors"][0]["field"] == "grants"
    assert _create(client, admin, {"roles.read": "all"}).status_code == 201
    assert _create(client, owner["headers"], {"tenant.transfer_ownership": "all"}).status_code == 201


def test_a_key_cannot_get_a_wider_scope_than_its_creator(client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client)
    role = client.post(
        "/api/v1/roles",
        json={"name": "integrator", "grants": {"api_keys.manage": "all", "members.read": "team"}},
        headers=owner["headers"],
    )
    assert role.status_code == 201, role.text
    integrator = add_member(client, settings, owner["tenant_id"], "integrator")["headers"]
    response = _create(client, integrator, {"members.read": "all"})
    assert response.status_code == 403
    assert response.json()["code"] == "grant_exceeds_own"
    assert _create(client, integrator, {"members.read": "own"}).status_code == 201


def test_an_unknown_permission_is_refused_by_field(client: TestClient[Any]) -> None:
    owner = signup(client)
    response = _create(client, owner["headers"], {"roles.read": "all", "nothing.here": "all"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "unknown_permission"
    assert body["errors"][0]["field"] == "grants.nothing.here"
    bad_scope = _create(client, owner["headers"], {"roles.read": "everyone"})
    assert bad_scope.status_code == 422
    assert bad_scope.json()["errors"][0]["field"] == "grants.roles.read"


def test_a_key_needs_a_name_and_a_grant(client: TestClient[Any]) -> None:
    owner = signup(client)
    no_grants = _create(client, owner["headers"], {})
    assert no_grants.status_code == 422
    assert no_grants.json()["errors"][0]["field"] == "grants"
    no_name = client.post(KEYS, json={"name": " ", "grants": {"roles.read": "all"}}, headers=owner["headers"])
    assert no_name.status_code == 422
    assert no_name.json()["errors"][0]["field"] == "name"


def test_a_revoked_key_is_refused(client: TestClient[Any]) -> None:
    owner = signup(client)
    created = _key(client, owner["headers"], {"roles.read": "all"})
    assert client.get("/api/v1/roles", headers=bearer(created["key"])).status_code == 200
    revoked = client.delete(f"{KEYS}/{created['id']}", headers=owner["headers"])
    assert revoked.status_code == 204
    response = client.get("/api/v1/roles", headers=bearer(created["key"]))
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_revoked"
    shown = client.get(f"{KEYS}/{created['id']}", headers=owner["headers"]).json()
    assert shown["revoked_at"] is not None
    assert client.delete(f"{KEYS}/{created['id']}", headers=owner["headers"]).status_code == 204
    again = client.get(f"{KEYS}/{created['id']}", headers=owner["headers"]).json()
    assert again["revoked_at"] == shown["revoked_at"]


def test_a_tampered_or_malformed_key_is_refused_like_a_bad_token(client: TestClient[Any]) -> None:
    owner = signup(client)
    key = _key(client, owner["headers"], {"roles.read": "all"})["key"]
    bad_jwt = client.get("/api/v1/roles", headers=bearer("eyJ.not.a.jwt")).json()
    head, last = key[:-1], key[-1]
    tampered = head + ("A" if last != "A" else "B")
    tenant_hex, key_hex = key.split("_")[1:3]
    other_tenant = key.replace(tenant_hex, uuid.uuid4().hex)
    for candidate in (
        tampered,
        other_tenant,
        key.replace(key_hex, uuid.uuid4().hex),
        "hk_",
        "hk_nothex_nothex_secret",
        f"hk_{tenant_hex}_{key_hex}_",
        f"hk_{tenant_hex}_{key_hex}",
    ):
        response = client.get("/api/v1/roles", headers=bearer(candidate))
        assert response.status_code == 401, candidate
        body = response.json()
        assert (body["code"], body["detail"]) == (bad_jwt["code"], bad_jwt["detail"]), candidate


def test_last_used_at_is_recorded_at_most_once_a_minute(client: TestClient[Any]) -> None:
    owner = signup(client)
    created = _key(client, owner["headers"], {"roles.read": "all"})
    assert client.get("/api/v1/roles", headers=bearer(created["key"])).status_code == 200
    first = client.get(f"{KEYS}/{created['id']}", headers=owner["headers"]).json()["last_used_at"]
    assert first is not None
    assert client.get("/api/v1/roles", headers=bearer(created["key"])).status_code == 200
    second = client.get(f"{KEYS}/{created['id']}", headers=owner["headers"]).json()["last_used_at"]
    assert second == first


def test_last_used_at_is_refreshed_once_it_is_a_minute_old(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    created = _key(client, owner["headers"], {"roles.read": "all"})
    assert client.get("/api/v1/roles", headers=bearer(created["key"])).status_code == 200
    first = client.get(f"{KEYS}/{created['id']}", headers=owner["headers"]).json()["last_used_at"]

    async def age(db: Database) -> None:
        with tenant_context(uuid.UUID(owner["tenant_id"])):
            async with db.transaction() as session:
                await session.execute(update(ApiKey).values(last_used_at=datetime(2020, 1, 1, tzinfo=UTC)))

    _run(settings, age)
    assert client.get("/api/v1/roles", headers=bearer(created["key"])).status_code == 200
    refreshed = client.get(f"{KEYS}/{created['id']}", headers=owner["headers"]).json()["last_used_at"]
    assert refreshed >= first


def test_a_key_of_one_tenant_cannot_read_anothers_objects(client: TestClient[Any]) -> None:
    a = signup(client, "Alpha")
    b = signup(client, "Beta")
    key = _key(client, a["headers"], {"roles.read": "all"})["key"]
    b_role = client.get("/api/v1/roles", headers=b["headers"]).json()["items"][0]["id"]
    missing = client.get(f"/api/v1/roles/{uuid.uuid4()}", headers=bearer(key))
    response = client.get(f"/api/v1/roles/{b_role}", headers=bearer(key))
    assert response.status_code == 404
    assert _without_request_id(response.json()) == _without_request_id(missing.json())
    names = {r["id"] for r in client.get("/api/v1/roles", headers=bearer(key)).json()["items"]}
    assert b_role not in names


def test_another_tenants_key_id_is_a_404_like_a_missing_one(client: TestClient[Any]) -> None:
    a = signup(client, "Alpha")
    b = signup(client, "Beta")
    b_key = _key(client, b["headers"], {"roles.read": "all"})
    missing = client.get(f"{KEYS}/{uuid.uuid4()}", headers=a["headers"])
    assert missing.status_code == 404
    for response in (
        client.get(f"{KEYS}/{b_key['id']}", headers=a["headers"]),
        client.delete(f"{KEYS}/{b_key['id']}", headers=a["headers"]),
        client.delete(f"{KEYS}/{uuid.uuid4()}", headers=a["headers"]),
    ):
        assert response.status_code == 404
        assert _without_request_id(response.json()) == _without_request_id(missing.json())
    assert client.get(KEYS, headers=a["headers"]).json()["items"] == []
    assert client.get("/api/v1/roles", headers=bearer(b_key["key"])).status_code == 200


def test_a_suspended_tenants_key_reads_but_cannot_write(client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client)
    key = _key(client, owner["headers"], {"roles.read": "all", "roles.manage": "all"})["key"]

    async def suspend(db: Database) -> None:
        with tenant_context(uuid.UUID(owner["tenant_id"])):  # audited in the tenant's own chain
            async with db.transaction() as session:
                await session.execute(
                    update(Tenant)
                    .where(Tenant.id == uuid.UUID(owner["tenant_id"]))
                    .values(status=TenantStatus.SUSPENDED, status_reason="unpaid")
                )

    _run(settings, suspend)
    assert client.get("/api/v1/roles", headers=bearer(key)).status_code == 200
    response = client.post("/api/v1/roles", json={"name": "New", "grants": {}}, headers=bearer(key))
    assert response.status_code == 423
    assert response.json()["code"] == "tenant_suspended"


def _without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}
