"""Signing in, tokens for one tenant, rotation, sign-out and throttling."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import OctKey
from litestar.testing import TestClient

from core.kernel.settings import Settings
from frontend_api.app import create_app
from tests.helpers import PASSWORD, bearer, login, signup, unique_email


def test_signup_returns_tokens_for_the_new_tenant_and_its_owner(client: TestClient[Any]) -> None:
    owner = signup(client, "Acme 贸易")
    me = client.get("/api/v1/me", headers=owner["headers"]).json()
    assert me["email"] == owner["email"]
    assert me["tenant"]["name"] == "Acme 贸易"
    assert me["tenant"]["id"] == owner["tenant_id"]
    assert me["roles"] == ["owner"]
    assert me["permissions"]["roles.manage"] == "all"
    assert me["tenant_status"] == "active"


def test_signup_creates_every_role_template(client: TestClient[Any]) -> None:
    owner = signup(client)
    names = {
        r["name"] for r in client.get("/api/v1/roles?limit=200", headers=owner["headers"]).json()["items"]
    }
    assert names == {
        "owner",
        "admin",
        "sales_manager",
        "sales_rep",
        "support_agent",
        "accountant",
        "warehouse_clerk",
        "viewer",
    }


def test_signup_with_a_taken_email_and_wrong_password_is_refused(client: TestClient[Any]) -> None:
    owner = signup(client)
    response = client.post(
        "/api/v1/signup",
        json={
            "company_name": "B",
            "owner_name": "X",
            "email": owner["email"],
            "password": "another password 1",
        },
    )
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "email"


def test_a_person_in_one_tenant_signs_in_with_email_and_password(client: TestClient[Any]) -> None:
    owner = signup(client)
    response = login(client, owner["email"].upper())
    assert response.status_code == 201
    body = response.json()
    assert body["tenant_id"] == owner["tenant_id"]
    assert body["token_type"] == "Bearer"
    assert client.get("/api/v1/me", headers=bearer(body["access_token"])).status_code == 200


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(client: TestClient[Any]) -> None:
    owner = signup(client)
    wrong = login(client, owner["email"], "not the password at all")
    unknown = login(client, unique_email("nobody"), "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    for key in ("code", "detail", "title"):
        assert wrong.json()[key] == unknown.json()[key]


def test_a_person_in_several_tenants_must_choose_and_can_switch(client: TestClient[Any]) -> None:
    first = signup(client, "Alpha")
    second = client.post(
        "/api/v1/signup",
        json={"company_name": "Beta", "owner_name": "Same", "email": first["email"], "password": PASSWORD},
    )
    assert second.status_code == 201
    ambiguous = login(client, first["email"])
    assert ambiguous.status_code == 422
    assert ambiguous.json()["code"] == "tenant_required"
    assert ambiguous.json()["errors"][0]["field"] == "tenant"

    into_beta = login(client, first["email"], tenant=second.json()["tenant_id"]).json()
    assert into_beta["tenant_id"] == second.json()["tenant_id"]
    me = client.get("/api/v1/me", headers=bearer(into_beta["access_token"])).json()
    assert me["tenant"]["name"] == "Beta"
    assert [t["name"] for t in me["tenants"]] == ["Alpha", "Beta"]

    switched = client.post(
        "/api/v1/auth/switch", json={"tenant": "alpha"}, headers=bearer(into_beta["access_token"])
    )
    assert switched.status_code == 201
    assert (
        client.get("/api/v1/me", headers=bearer(switched.json()["access_token"])).json()["tenant"]["name"]
        == "Alpha"
    )


def test_switching_to_a_tenant_you_do_not_belong_to_is_refused(client: TestClient[Any]) -> None:
    mine = signup(client, "Mine")
    other = signup(client, "Other")
    response = client.post(
        "/api/v1/auth/switch", json={"tenant": other["tenant_id"]}, headers=mine["headers"]
    )
    assert response.status_code == 422
    assert response.json()["code"] == "not_a_member"


def test_a_refresh_token_rotates_and_works_once(client: TestClient[Any]) -> None:
    owner = signup(client)
    first = client.post("/api/v1/auth/refresh", json={"refresh_token": owner["refresh_token"]})
    assert first.status_code == 201
    new_pair = first.json()
    assert new_pair["refresh_token"] != owner["refresh_token"]
    assert client.get("/api/v1/me", headers=bearer(new_pair["access_token"])).status_code == 200
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": owner["refresh_token"]})
    assert again.status_code == 401
    assert again.json()["code"] == "refresh_token_revoked"


def test_reusing_a_spent_refresh_token_revokes_the_whole_family(client: TestClient[Any]) -> None:
    owner = signup(client)
    rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": owner["refresh_token"]}).json()
    # An attacker replays the stolen, already-spent token...
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": owner["refresh_token"]}).status_code == 401
    )
    # ...and the legitimate newer token dies with the family, as does its access token.
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}).status_code
        == 401
    )
    assert client.get("/api/v1/me", headers=bearer(rotated["access_token"])).status_code == 401


def test_logout_revokes_the_access_and_refresh_tokens(client: TestClient[Any]) -> None:
    owner = signup(client)
    other_session = login(client, owner["email"]).json()
    assert client.post("/api/v1/auth/logout", headers=owner["headers"]).status_code == 204
    assert client.get("/api/v1/me", headers=owner["headers"]).status_code == 401
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": owner["refresh_token"]}).status_code == 401
    )
    # Another session of the same person is untouched.
    assert client.get("/api/v1/me", headers=bearer(other_session["access_token"])).status_code == 200


def test_an_access_token_is_not_a_refresh_token(client: TestClient[Any]) -> None:
    owner = signup(client)
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": owner["access_token"]})
    assert response.status_code == 401


def test_the_signing_algorithm_is_pinned(client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client)
    claims = jwt.decode(owner["access_token"], OctKey.import_key(settings.secret_key.encode())).claims
    unsigned = jwt.encode({"alg": "none"}, claims, None, algorithms=["none"])
    assert client.get("/api/v1/me", headers=bearer(unsigned)).status_code == 401
    other_alg = jwt.encode(
        {"alg": "HS512"}, claims, OctKey.import_key(settings.secret_key.encode()), algorithms=["HS512"]
    )
    assert client.get("/api/v1/me", headers=bearer(other_alg)).status_code == 401
    forged = jwt.encode(
        {"alg": "HS256"},
        {**claims, "tid": owner["tenant_id"]},
        OctKey.import_key(b"someone-elses-secret-key-32-bytes!!"),
        algorithms=["HS256"],
    )
    assert client.get("/api/v1/me", headers=bearer(forged)).status_code == 401


def test_an_expired_access_token_is_refused(settings: Settings) -> None:
    short = dataclasses.replace(settings, access_token_ttl_seconds=1)
    with TestClient(create_app(short)) as client:
        owner = signup(client)
        time.sleep(2.1)
        response = client.get("/api/v1/me", headers=owner["headers"])
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_no_token_is_a_401_with_a_www_authenticate_header(client: TestClient[Any]) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_repeated_failures_are_delayed_more_and_more(settings: Settings) -> None:
    strict = dataclasses.replace(settings, login_free_attempts=2)
    with TestClient(create_app(strict)) as client:
        owner = signup(client)
        answers = [login(client, owner["email"], "wrong password!!").status_code for _ in range(3)]
        assert answers == [401, 401, 401]
        throttled = login(client, owner["email"])  # even the right password waits
        assert throttled.status_code == 429
        assert throttled.json()["code"] == "login_throttled"
        first_wait = int(throttled.headers["retry-after"])
        time.sleep(first_wait + 0.1)
        assert login(client, owner["email"], "wrong password!!").status_code == 401
        second_wait = int(login(client, owner["email"]).headers["retry-after"])
        assert second_wait > first_wait


def test_throttling_does_not_reveal_whether_the_email_exists(settings: Settings) -> None:
    strict = dataclasses.replace(settings, login_free_attempts=1, login_free_attempts_per_ip=100)
    with TestClient(create_app(strict)) as client:
        owner = signup(client)
        answers = {}
        for email in (owner["email"], unique_email("ghost")):
            failures = [login(client, email, "wrong password!!") for _ in range(2)]
            throttled = login(client, email, "wrong password!!")
            answers[email] = [
                (r.status_code, r.json()["code"], r.json()["detail"]) for r in [*failures, throttled]
            ]
    known, unknown = answers.values()
    assert known == unknown
    assert known[-1][:2] == (429, "login_throttled")


def test_a_throttled_ip_is_delayed_across_accounts(settings: Settings) -> None:
    strict = dataclasses.replace(settings, login_free_attempts=100, login_free_attempts_per_ip=3)
    with TestClient(create_app(strict)) as client:
        owner = signup(client)
        answers = [login(client, unique_email("spray"), "password spraying").status_code for _ in range(4)]
        response = login(client, owner["email"])
    assert answers == [401, 401, 401, 401]
    assert response.status_code == 429
