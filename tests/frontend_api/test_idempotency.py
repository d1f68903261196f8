"""Idempotency-Key: a retry replays the first answer and the change happens once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select

from core.kernel import idempotency
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.idempotency import IdempotencyKey
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from frontend_api.app import create_app
from tests.helpers import PASSWORD, add_member, signup, unique_email

ROLE = {"name": "Support", "grants": {"roles.read": "all"}}


def _key() -> str:
    return str(uuid.uuid4())


def _roles_named(client: TestClient[Any], headers: dict[str, str], name: str) -> int:
    items = client.get("/api/v1/roles?limit=200", headers=headers).json()["items"]
    return sum(1 for role in items if role["name"] == name)


def test_a_retry_replays_the_first_answer_and_creates_one_role(client: TestClient[Any]) -> None:
    owner = signup(client)
    headers = {**owner["headers"], "Idempotency-Key": _key()}

    first = client.post("/api/v1/roles", json=ROLE, headers=headers)
    retry = client.post("/api/v1/roles", json=ROLE, headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert retry.headers["content-type"] == first.headers["content-type"]
    assert _roles_named(client, owner["headers"], "Support") == 1


def test_the_same_key_with_another_body_is_refused(client: TestClient[Any]) -> None:
    owner = signup(client)
    headers = {**owner["headers"], "Idempotency-Key": _key()}
    client.post("/api/v1/roles", json=ROLE, headers=headers)

    other = client.post("/api/v1/roles", json={**ROLE, "name": "Other"}, headers=headers)

    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert _roles_named(client, owner["headers"], "Other") == 0


def test_keys_belong_to_one_credential(client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client)
    admin = add_member(client, settings, owner["tenant_id"], "admin")
    key = _key()

    mine = client.post("/api/v1/roles", json=ROLE, headers={**owner["headers"], "Idempotency-Key": key})
    theirs = client.post(
        "/api/v1/roles", json={**ROLE, "name": "Theirs"}, headers={**admin["headers"], "Idempotency-Key": key}
    )

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "idempotent-replayed" not in theirs.headers


def test_a_failed_request_frees_its_key_for_a_corrected_retry(client: TestClient[Any]) -> None:
    owner = signup(client)
    headers = {**owner["headers"], "Idempotency-Key": _key()}
    client.post("/api/v1/roles", json={**ROLE, "name": "Taken"}, headers=owner["headers"])

    conflict = client.post("/api/v1/roles", json={**ROLE, "name": "Taken"}, headers=headers)
    client.patch(
        f"/api/v1/roles/{_role_id(client, owner['headers'], 'Taken')}",
        json={"name": "Renamed"},
        headers=owner["headers"],
    )
    retry = client.post("/api/v1/roles", json={**ROLE, "name": "Taken"}, headers=headers)

    assert conflict.status_code == 409
    assert retry.status_code == 201
    assert "idempotent-replayed" not in retry.headers


def _role_id(client: TestClient[Any], headers: dict[str, str], name: str) -> str:
    items = client.get("/api/v1/roles?limit=200", headers=headers).json()["items"]
    return str(next(role["id"] for role in items if role["name"] == name))


@pytest.mark.parametrize("key", ["short", "x" * 256, "has space in it", "ünïcödé-key"])
def test_a_malformed_key_is_a_clear_problem(client: TestClient[Any], key: str) -> None:
    owner = signup(client)

    response = client.post(
        "/api/v1/roles",
        json=ROLE,
        headers={**owner["headers"], "Idempotency-Key": key.encode()},
    )

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_idempotency_key"
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert _roles_named(client, owner["headers"], "Support") == 0


def test_routes_without_a_tenant_refuse_a_key_instead_of_ignoring_it(client: TestClient[Any]) -> None:
    owner = signup(client)
    key = {"Idempotency-Key": _key()}

    login = client.post(
        "/api/v1/auth/token", json={"email": owner["email"], "password": PASSWORD}, headers=key
    )
    new_api_key = client.post(
        "/api/v1/api-keys",
        json={"name": "erp", "grants": {"roles.read": "all"}},
        headers={**owner["headers"], **key},
    )
    patch = client.patch("/api/v1/tenant", json={"name": "X"}, headers={**owner["headers"], **key})

    assert [r.status_code for r in (login, new_api_key, patch)] == [422, 422, 422]
    assert {r.json()["code"] for r in (login, new_api_key, patch)} == {"idempotency_not_supported"}


def test_a_post_without_a_key_runs_every_time(client: TestClient[Any]) -> None:
    owner = signup(client)

    client.post("/api/v1/teams", json={"name": "North"}, headers=owner["headers"])
    again = client.post("/api/v1/teams", json={"name": "North"}, headers=owner["headers"])

    assert again.status_code == 409


def test_concurrent_requests_with_one_key_run_once(settings: Settings) -> None:
    """Six copies of one request at once, in one event loop (real concurrency on PostgreSQL):
    one runs, the others replay its answer or are told it is still running."""
    app = create_app(settings)

    async def race() -> tuple[list[httpx.Response], int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            owner = await http.post(
                "/api/v1/signup",
                json={
                    "company_name": "Acme",
                    "owner_name": "O",
                    "email": unique_email(),
                    "password": PASSWORD,
                },
            )
            auth = {"Authorization": f"Bearer {owner.json()['access_token']}"}
            headers = {**auth, "Idempotency-Key": _key()}
            responses = await asyncio.gather(
                *(http.post("/api/v1/roles", json=ROLE, headers=headers) for _ in range(6))
            )
            roles = (await http.get("/api/v1/roles?limit=200", headers=auth)).json()["items"]
        await app.state.services.db.dispose()
        return list(responses), sum(1 for role in roles if role["name"] == ROLE["name"])

    responses, created = asyncio.run(race())

    assert {r.status_code for r in responses} <= {201, 409}, [r.text for r in responses]
    executed = [r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers]
    assert len(executed) == 1
    assert all(r.json()["code"] == "idempotency_key_in_progress" for r in responses if r.status_code == 409)
    assert created == 1


def test_expired_keys_are_purged_and_may_be_used_again(client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client)
    headers = {**owner["headers"], "Idempotency-Key": _key()}
    client.post("/api/v1/roles", json=ROLE, headers=headers)

    async def purge(now_offset: timedelta) -> int:
        db = Database(settings.database_url)
        try:
            return await idempotency.purge_expired(db, utcnow() + now_offset)
        finally:
            await db.dispose()

    async def stored() -> int:
        db = Database(settings.database_url)
        try:
            with tenant_context(uuid.UUID(owner["tenant_id"])):
                async with db.transaction() as session:
                    return int(await session.scalar(select(func.count()).select_from(IdempotencyKey)) or 0)
        finally:
            await db.dispose()

    assert asyncio.run(purge(timedelta(hours=23))) == 0
    assert asyncio.run(stored()) == 1
    assert asyncio.run(purge(idempotency.KEY_TTL + timedelta(seconds=1))) == 1
    assert asyncio.run(stored()) == 0
    retry = client.post("/api/v1/roles", json=ROLE, headers=headers)
    assert retry.status_code == 409  # ran again (the name is taken now), not replayed
    assert retry.json()["code"] == "name_taken"
