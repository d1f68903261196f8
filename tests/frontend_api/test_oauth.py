"""The OAuth 2 server as an app sees it: consent, the code flow with PKCE, refresh with
rotation, client credentials for one installing business, revocation, introspection, and
app tokens that never do more than their scopes nor reach another business."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import timedelta
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import text

from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from frontend_api.app import create_app
from tests.app_helpers import (
    REDIRECT,
    authorize_params,
    bearer,
    code_for,
    decide,
    install,
    pkce,
    query_of,
    register_app,
    token,
)
from tests.helpers import add_member, signup

CUSTOMERS = "/api/v1/customers"


def _me(client: TestClient[Any], who: dict[str, Any]) -> str:
    return str(client.get("/api/v1/me", headers=who["headers"]).json()["user_id"])


def _customer(client: TestClient[Any], who: dict[str, Any], name: str) -> str:
    response = client.post(CUSTOMERS, json={"kind": "company", "name": name}, headers=who["headers"])
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _introspect(client: TestClient[Any], app: dict[str, Any], value: str) -> dict[str, Any]:
    response = client.post(
        "/oauth/introspect", data={"token": value}, auth=(app["client_id"], app["client_secret"])
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _sql(settings: Settings, tenant_id: str, statement: str, **params: Any) -> None:
    async def run() -> None:
        db = Database(settings.database_url)
        try:
            with tenant_context(uuid.UUID(tenant_id)):
                async with db.transaction() as session:
                    await session.execute(text(statement), params)
        finally:
            await db.dispose()

    asyncio.run(run())


def test_the_consent_screen_says_who_asks_for_what_in_both_languages(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"], description="Two-way sync")
    a = signup(client, "Tenant A")
    _, challenge = pkce()
    response = client.get("/oauth/authorize", params=authorize_params(app, challenge), headers=a["headers"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["app_name"] == "Sync Pro"
    assert body["description"] == "Two-way sync"
    assert body["developer"] == {"tenant_id": dev["tenant_id"], "name": "Dev Co"}
    assert body["tenant"] == {"id": a["tenant_id"], "name": "Tenant A"}
    assert [s["name"] for s in body["requested_scopes"]] == ["customers:read", "customers:write"]
    assert body["requested_scopes"][1]["label_zh"] == "新增和修改客户及其联系人"
    assert body["requested_scopes"][1]["label_en"] == "Add and change customers and their contacts"
    assert body["redirect_uri"] == REDIRECT
    assert body["state"] == "xyz-state"
    assert body["installed"] is False


def test_the_code_flow_with_pkce_gives_tokens_for_the_consenting_business(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    a = signup(client, "Tenant A")
    _customer(client, a, "Existing customer")
    verifier, challenge = pkce()
    approved = decide(client, a["headers"], authorize_params(app, challenge))
    assert approved.status_code == 200, approved.text
    redirect = approved.json()["redirect_to"]
    assert redirect.startswith(REDIRECT + "?")
    params = query_of(redirect)
    assert params["state"] == "xyz-state"

    response = token(
        client,
        app,
        grant_type="authorization_code",
        code=params["code"],
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["scope"] == "customers:read customers:write"
    assert tokens["tenant_id"] == a["tenant_id"]
    listed = client.get(CUSTOMERS, headers=bearer(tokens["access_token"]))
    assert listed.status_code == 200, listed.text
    assert [c["name"] for c in listed.json()["items"]] == ["Existing customer"]
    created = client.post(
        CUSTOMERS,
        json={"kind": "company", "name": "Made by the app", "owner_id": _me(client, a)},
        headers=bearer(tokens["access_token"]),
    )
    assert created.status_code == 201, created.text


def test_an_app_token_never_does_more_than_its_scopes(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    a = signup(client, "Tenant A")
    tokens = install(client, a["headers"], app, scopes=["customers:read"])
    assert tokens["scope"] == "customers:read"
    headers = bearer(tokens["access_token"])
    assert client.get(CUSTOMERS, headers=headers).status_code == 200

    created = client.post(
        CUSTOMERS, json={"kind": "company", "name": "X", "owner_id": _me(client, a)}, headers=headers
    )
    assert created.status_code == 403, created.text
    assert created.json()["code"] == "insufficient_scope"
    assert "customers:write" in created.json()["detail"]
    assert 'error="insufficient_scope"' in created.headers["www-authenticate"]
    for response in (
        client.get("/api/v1/members", headers=headers),
        client.get("/api/v1/roles", headers=headers),
        client.post(
            "/api/v1/api-keys", json={"name": "k", "grants": {"customers.read": "all"}}, headers=headers
        ),
        client.get("/api/v1/app-installations", headers=headers),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "insufficient_scope"
    assert client.get("/api/v1/me", headers=headers).json()["code"] == "not_a_person"
    assert client.get(CUSTOMERS, headers=headers).status_code == 200  # still fine


def test_an_app_token_never_reaches_another_business(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    a, b = signup(client, "Tenant A"), signup(client, "Tenant B")
    a_customer, b_customer = _customer(client, a, "A's customer"), _customer(client, b, "B's customer")
    a_tokens, b_tokens = install(client, a["headers"], app), install(client, b["headers"], app)
    assert a_tokens["installation_id"] != b_tokens["installation_id"]

    a_app, b_app = bearer(a_tokens["access_token"]), bearer(b_tokens["access_token"])
    assert client.get(f"{CUSTOMERS}/{a_customer}", headers=a_app).status_code == 200
    for headers, foreign in ((a_app, b_customer), (b_app, a_customer)):
        for response in (
            client.get(f"{CUSTOMERS}/{foreign}", headers=headers),
            client.patch(f"{CUSTOMERS}/{foreign}", json={"name": "Taken"}, headers=headers),
        ):
            assert response.status_code == 404, response.text
    assert [c["name"] for c in client.get(CUSTOMERS, headers=b_app).json()["items"]] == ["B's customer"]

    # B's token with A's tenant written into it finds nothing in A.
    _, _, row, secret = b_tokens["access_token"].split("_", 3)
    forged = f"hkat_{uuid.UUID(a['tenant_id']).hex}_{row}_{secret}"
    response = client.get(CUSTOMERS, headers=bearer(forged))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_uninstalling_revokes_every_token_of_the_installation_at_once(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    a, b = signup(client, "Tenant A"), signup(client, "Tenant B")
    first, second = install(client, a["headers"], app), install(client, a["headers"], app)
    b_tokens = install(client, b["headers"], app)
    machine = token(client, app, grant_type="client_credentials", tenant=a["tenant_id"]).json()

    response = client.delete(f"/api/v1/app-installations/{first['installation_id']}", headers=a["headers"])
    assert response.status_code == 204
    for tokens in (first, second, machine):
        refused = client.get(CUSTOMERS, headers=bearer(tokens["access_token"]))
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == "invalid_token"
        assert _introspect(client, app, tokens["access_token"]) == {"active": False}
    refreshed = token(client, app, grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
    again = token(client, app, grant_type="client_credentials", tenant=a["tenant_id"])
    assert again.json()["error"] == "invalid_grant"
    assert client.get(CUSTOMERS, headers=bearer(b_tokens["access_token"])).status_code == 200

    # Reinstalling brings nothing old back.
    reinstalled = install(client, a["headers"], app)
    assert reinstalled["installation_id"] == first["installation_id"]
    assert client.get(CUSTOMERS, headers=bearer(first["access_token"])).status_code == 401
    assert client.get(CUSTOMERS, headers=bearer(reinstalled["access_token"])).status_code == 200


def test_a_code_issued_before_the_uninstall_is_void(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    a = signup(client, "Tenant A")
    installation_id = install(client, a["headers"], app)["installation_id"]
    code, verifier = code_for(client, a["headers"], app)
    client.delete(f"/api/v1/app-installations/{installation_id}", headers=a["headers"])
    install(client, a["headers"], app)
    response = token(
        client, app, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_refresh_rotates_and_a_reused_refresh_token_revokes_its_family(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    a = signup(client, "Tenant A")
    first = install(client, a["headers"], app)
    unrelated = install(client, a["headers"], app)
    rotated = token(client, app, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["scope"] == first["scope"]
    narrower = token(
        client, app, grant_type="refresh_token", refresh_token=second["refresh_token"], scope="customers:read"
    )
    assert narrower.status_code == 200, narrower.text
    third = narrower.json()
    assert third["scope"] == "customers:read"
    assert (
        client.post(
            CUSTOMERS, json={"kind": "company", "name": "X"}, headers=bearer(third["access_token"])
        ).json()["code"]
        == "insufficient_scope"
    )

    reused = token(client, app, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    for tokens in (first, second, third):
        assert client.get(CUSTOMERS, headers=bearer(tokens["access_token"])).status_code == 401
    assert (
        token(client, app, grant_type="refresh_token", refresh_token=third["refresh_token"]).status_code
        == 400
    )
    # Another consent's tokens are another family.
    assert client.get(CUSTOMERS, headers=bearer(unrelated["access_token"])).status_code == 200


def test_a_refresh_cannot_widen_the_scopes(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    a = signup(client, "Tenant A")
    tokens = install(client, a["headers"], app, scopes=["customers:read"])
    response = token(
        client,
        app,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        scope="customers:write",
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_pkce_with_s256_is_required_and_checked(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    a = signup(client, "Tenant A")
    verifier, challenge = pkce()
    for overrides, reason in (
        ({"code_challenge": ""}, "Missing 'code_challenge'"),
        ({"code_challenge_method": "plain"}, "must be S256"),
        ({"code_challenge_method": ""}, "must be S256"),
    ):
        params = authorize_params(app, challenge, **overrides)
        for response in (
            client.get("/oauth/authorize", params=params, headers=a["headers"]),
            decide(client, a["headers"], params),
        ):
            assert response.status_code == 400, response.text
            body = response.json()
            assert body["error"] == "invalid_request"
            assert reason in body["error_description"]
            assert query_of(body["redirect_to"])["error"] == "invalid_request"
            assert query_of(body["redirect_to"])["state"] == "xyz-state"

    code, verifier = code_for(client, a["headers"], app)
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    missing = token(client, app, **exchange)
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    wrong = token(client, app, **exchange, code_verifier=pkce()[0])
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert token(client, app, **exchange, code_verifier=verifier).status_code == 200


def test_a_code_is_good_once_for_its_own_client_and_redirect_uri(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"], redirect_uris=[REDIRECT, "https://app.example.com/other"])
    other_app = register_app(client, dev["headers"], name="Other app")
    a = signup(client, "Tenant A")
    code, verifier = code_for(client, a["headers"], app)
    exchange = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}

    for response in (
        token(client, app, **exchange, redirect_uri="https://app.example.com/other"),
        token(client, other_app, **exchange, redirect_uri=REDIRECT),
        token(client, app, **{**exchange, "code": code[:-2] + "xx"}, redirect_uri=REDIRECT),
    ):
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_grant"
    first = token(client, app, **exchange, redirect_uri=REDIRECT)
    assert first.status_code == 200
    second = token(client, app, **exchange, redirect_uri=REDIRECT)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    # RFC 6749 §4.1.2: what the code was exchanged for is revoked when it comes back.
    assert client.get(CUSTOMERS, headers=bearer(first.json()["access_token"])).status_code == 401


def test_client_credentials_are_bound_to_one_installing_business(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    a, b = signup(client, "Tenant A"), signup(client, "Tenant B")
    _customer(client, a, "A's customer")
    install(client, a["headers"], app, scopes=["customers:read"])

    missing = token(client, app, grant_type="client_credentials")
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    for tenant in (b["tenant_id"], "not-a-tenant", str(uuid.uuid4())):
        refused = token(client, app, grant_type="client_credentials", tenant=tenant)
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_grant"
    wider = token(
        client, app, grant_type="client_credentials", tenant=a["tenant_id"], scope="customers:write"
    )
    assert wider.status_code == 400
    assert wider.json()["error"] == "invalid_scope"

    issued = token(client, app, grant_type="client_credentials", tenant=a["tenant_id"])
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert "refresh_token" not in body
    assert body["scope"] == "customers:read"
    assert body["tenant_id"] == a["tenant_id"]
    listed = client.get(CUSTOMERS, headers=bearer(body["access_token"]))
    assert [c["name"] for c in listed.json()["items"]] == ["A's customer"]


def test_a_public_client_uses_pkce_alone_and_gets_no_client_credentials(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"], client_type="public", scopes=["customers:read"])
    a = signup(client, "Tenant A")
    code, verifier = code_for(client, a["headers"], app)
    form = {"client_id": app["client_id"], "redirect_uri": REDIRECT, "code_verifier": verifier}
    exchanged = client.post("/oauth/token", data={**form, "grant_type": "authorization_code", "code": code})
    assert exchanged.status_code == 200, exchanged.text
    tokens = exchanged.json()
    refreshed = client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": app["client_id"],
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    machine = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": app["client_id"], "tenant": a["tenant_id"]},
    )
    # Client credentials are for confidential clients only (RFC 6749 §4.4): it cannot authenticate.
    assert machine.status_code == 401
    assert machine.json()["error"] == "invalid_client"
    introspected = client.post(
        "/oauth/introspect", data={"token": tokens["access_token"], "client_id": app["client_id"]}
    )
    assert introspected.status_code in (400, 401)
    assert introspected.json()["error"] == "invalid_client"
    revoked = client.post(
        "/oauth/revoke", data={"token": refreshed.json()["refresh_token"], "client_id": app["client_id"]}
    )
    assert revoked.status_code == 200
    assert client.get(CUSTOMERS, headers=bearer(refreshed.json()["access_token"])).status_code == 401


def test_unknown_or_unregistered_scopes_are_invalid_scope(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"], scopes=["customers:read"])
    a = signup(client, "Tenant A")
    _, challenge = pkce()
    for scope, named in (
        ("customers:read customers:explode", "Unknown scope"),
        ("leads:read", "did not register"),
    ):
        response = client.get(
            "/oauth/authorize", params=authorize_params(app, challenge, scope=scope), headers=a["headers"]
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_scope"
        assert named in response.json()["error_description"]
        assert query_of(response.json()["redirect_to"])["error"] == "invalid_scope"
    install(client, a["headers"], app)
    machine = token(client, app, grant_type="client_credentials", tenant=a["tenant_id"], scope="nope:read")
    assert machine.status_code == 400
    assert machine.json()["error"] == "invalid_scope"


def test_a_bad_client_or_redirect_uri_is_never_sent_back_to_the_app(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    a = signup(client, "Tenant A")
    _, challenge = pkce()
    for overrides, error in (
        ({"client_id": "app_nobody"}, "invalid_client"),
        ({"client_id": ""}, "invalid_client"),
        ({"redirect_uri": "https://evil.example.com/cb"}, "invalid_request"),
        ({"redirect_uri": REDIRECT + "/"}, "invalid_request"),
        ({"redirect_uri": ""}, "invalid_request"),
    ):
        params = authorize_params(app, challenge, **overrides)
        for response in (
            client.get("/oauth/authorize", params=params, headers=a["headers"]),
            decide(client, a["headers"], params),
        ):
            assert response.status_code == 400, (overrides, response.text)
            assert response.json()["error"] == error
            assert "redirect_to" not in response.json()
    unsupported = client.get(
        "/oauth/authorize",
        params=authorize_params(app, challenge, response_type="token"),
        headers=a["headers"],
    )
    assert unsupported.json()["error"] == "unsupported_response_type"
    assert client.get("/api/v1/app-installations", headers=a["headers"]).json()["items"] == []


def test_denying_sends_the_browser_back_with_access_denied_and_installs_nothing(
    client: TestClient[Any],
) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    a = signup(client, "Tenant A")
    _, challenge = pkce()
    response = decide(client, a["headers"], authorize_params(app, challenge), decision="deny")
    assert response.status_code == 200, response.text
    params = query_of(response.json()["redirect_to"])
    assert (params["error"], params["state"]) == ("access_denied", "xyz-state")
    assert "code" not in params
    assert client.get("/api/v1/app-installations", headers=a["headers"]).json()["items"] == []


def test_the_admin_may_grant_fewer_scopes_but_never_others_nor_more_than_they_hold(
    client: TestClient[Any], settings: Settings
) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"], scopes=["customers:read", "customers:sensitive"])
    a = signup(client, "Tenant A")
    _, challenge = pkce()
    params = authorize_params(app, challenge)
    for body, field, code in (
        ({"decision": "maybe"}, "decision", "invalid_choice"),
        ({"decision": "approve", "scopes": ["leads:read"]}, "scopes[0]", "scope_not_requested"),
        ({"decision": "approve", "scopes": []}, "scopes", "required"),
    ):
        response = client.post("/oauth/authorize", params=params, json=body, headers=a["headers"])
        assert response.status_code == 422, response.text
        assert response.json()["code"] == code
        assert response.json()["errors"][0]["field"] == field

    role = client.post(
        "/api/v1/roles",
        json={"name": "App installer", "grants": {"apps.install": "all", "customers.read": "all"}},
        headers=a["headers"],
    ).json()
    installer = add_member(client, settings, a["tenant_id"], "viewer")
    client.patch(
        f"/api/v1/members/{installer['member_id']}", json={"roles": [role["id"]]}, headers=a["headers"]
    )
    refused = decide(client, installer["headers"], params)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "grant_exceeds_own"
    assert refused.json()["errors"][0]["field"] == "scopes"
    assert client.get("/api/v1/app-installations", headers=a["headers"]).json()["items"] == []
    tokens = install(client, installer["headers"], app, scopes=["customers:read"])
    assert tokens["scope"] == "customers:read"


def test_only_a_person_with_apps_install_sees_or_answers_the_consent(
    client: TestClient[Any], settings: Settings
) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    a = signup(client, "Tenant A")
    _, challenge = pkce()
    params = authorize_params(app, challenge)
    rep = add_member(client, settings, a["tenant_id"], "sales_rep")["headers"]
    for response in (client.get("/oauth/authorize", params=params, headers=rep), decide(client, rep, params)):
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    key = client.post(
        "/api/v1/api-keys", json={"name": "k", "grants": {"apps.install": "all"}}, headers=a["headers"]
    ).json()["key"]
    for response in (
        client.get("/oauth/authorize", params=params, headers=bearer(key)),
        decide(client, bearer(key), params),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "not_a_person"
    assert client.get("/oauth/authorize", params=params).status_code == 401


def test_narrowing_an_installation_narrows_its_existing_tokens(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    a = signup(client, "Tenant A")
    tokens = install(client, a["headers"], app)
    owner = {"kind": "company", "name": "X", "owner_id": _me(client, a)}
    assert client.post(CUSTOMERS, json=owner, headers=bearer(tokens["access_token"])).status_code == 201
    _, challenge = pkce()
    consent = client.get(
        "/oauth/authorize", params=authorize_params(app, challenge), headers=a["headers"]
    ).json()
    assert consent["installed"] is True
    assert consent["granted_scopes"] == ["customers:read", "customers:write"]
    assert (
        decide(client, a["headers"], authorize_params(app, challenge), scopes=["customers:read"]).status_code
        == 200
    )
    refused = client.post(CUSTOMERS, json=owner, headers=bearer(tokens["access_token"]))
    assert refused.status_code == 403
    assert _introspect(client, app, tokens["access_token"])["scope"] == "customers:read"
    # The developer dropping a scope drops it everywhere too.
    client.patch(f"/api/v1/apps/{app['id']}", json={"scopes": ["customers:write"]}, headers=dev["headers"])
    assert (
        client.get(CUSTOMERS, headers=bearer(tokens["access_token"])).json()["code"] == "insufficient_scope"
    )


def test_introspection_tells_the_app_about_its_own_tokens_only(
    client: TestClient[Any], settings: Settings
) -> None:
    dev = signup(client, "Dev Co")
    app, other_app = register_app(client, dev["headers"]), register_app(client, dev["headers"], name="Other")
    a = signup(client, "Tenant A")
    tokens = install(client, a["headers"], app)
    access = _introspect(client, app, tokens["access_token"])
    assert access["active"] is True
    assert access["scope"] == "customers:read customers:write"
    assert access["client_id"] == app["client_id"]
    assert access["tenant_id"] == access["sub"] == a["tenant_id"]
    assert access["installation_id"] == tokens["installation_id"]
    assert access["token_type"] == "Bearer"
    assert access["exp"] - access["iat"] == 3600
    assert _introspect(client, app, tokens["refresh_token"])["token_use"] == "refresh"
    for value in (tokens["access_token"] + "x", "hkat_nonsense", ""):
        assert _introspect(client, app, value) == {"active": False}
    assert _introspect(client, other_app, tokens["access_token"]) == {"active": False}

    _sql(
        settings,
        a["tenant_id"],
        "UPDATE app_tokens SET expires_at = :past WHERE kind = 'access'",
        past=utcnow() - timedelta(seconds=1),
    )
    assert _introspect(client, app, tokens["access_token"]) == {"active": False}
    expired = client.get(CUSTOMERS, headers=bearer(tokens["access_token"]))
    assert expired.status_code == 401
    assert expired.json()["code"] == "invalid_token"

    anonymous = client.post("/oauth/introspect", data={"token": tokens["refresh_token"]})
    assert anonymous.status_code in (400, 401)
    assert anonymous.json()["error"] == "invalid_client"


def test_revoking_an_access_token_or_a_refresh_token_and_its_family(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app, other_app = register_app(client, dev["headers"]), register_app(client, dev["headers"], name="Other")
    a = signup(client, "Tenant A")
    first, second = install(client, a["headers"], app), install(client, a["headers"], app)
    auth = (app["client_id"], app["client_secret"])

    assert client.post("/oauth/revoke", data={"token": first["access_token"]}, auth=auth).status_code == 200
    assert client.get(CUSTOMERS, headers=bearer(first["access_token"])).status_code == 401
    assert (
        token(client, app, grant_type="refresh_token", refresh_token=first["refresh_token"]).status_code
        == 200
    )

    foreign = client.post(
        "/oauth/revoke",
        data={"token": second["refresh_token"]},
        auth=(other_app["client_id"], other_app["client_secret"]),
    )
    assert foreign.status_code == 400
    assert foreign.json()["error"] == "invalid_grant"
    assert client.get(CUSTOMERS, headers=bearer(second["access_token"])).status_code == 200

    revoked = client.post(
        "/oauth/revoke",
        data={"token": second["refresh_token"], "token_type_hint": "refresh_token"},
        auth=auth,
    )
    assert revoked.status_code == 200
    assert client.get(CUSTOMERS, headers=bearer(second["access_token"])).status_code == 401
    assert (
        token(client, app, grant_type="refresh_token", refresh_token=second["refresh_token"]).status_code
        == 400
    )
    # Unknown tokens are answered 200 (RFC 7009 §2.2); bad requests are not.
    assert client.post("/oauth/revoke", data={"token": "whatever"}, auth=auth).status_code == 200
    assert client.post("/oauth/revoke", data={}, auth=auth).json()["error"] == "invalid_request"
    hint = client.post("/oauth/revoke", data={"token": "x", "token_type_hint": "id_token"}, auth=auth)
    assert hint.json()["error"] == "unsupported_token_type"


def test_token_endpoint_errors_are_rfc_6749_json(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    wrong_secret = token(
        client, {**app, "client_secret": "hkcs_wrong"}, grant_type="client_credentials", tenant="x"
    )
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"
    assert wrong_secret.headers["www-authenticate"].startswith("Basic")
    unknown = token(client, {**app, "client_id": "app_nobody"}, grant_type="client_credentials")
    assert unknown.status_code == 401
    assert unknown.json()["error"] == "invalid_client"
    posted = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": app["client_id"], "client_secret": "bad"},
    )
    assert posted.status_code == 401
    assert posted.json()["error"] == "invalid_client"
    grant = token(client, app, grant_type="password", username="u", password="p")
    assert grant.status_code == 400
    assert grant.json()["error"] == "unsupported_grant_type"
    json_body = client.post("/oauth/token", json={"grant_type": "client_credentials"})
    assert json_body.status_code == 400
    assert json_body.json()["error"] == "invalid_request"
    no_code = token(client, app, grant_type="authorization_code", redirect_uri=REDIRECT)
    assert no_code.json()["error"] == "invalid_request"
    for response in (wrong_secret, grant, json_body):
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["cache-control"] == "no-store"


def test_the_token_endpoint_is_rate_limited_per_client_ip(settings: Settings) -> None:
    app = create_app(dataclasses.replace(settings, rate_limit_oauth="3/minute"))
    with TestClient(app) as client:
        answers = [client.post("/oauth/token", data={"grant_type": "client_credentials"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert answers[-1].json()["code"] == "rate_limited"
    assert answers[-1].headers["retry-after"]


def test_the_changes_an_app_makes_are_audited_with_the_app_as_the_actor(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    a = signup(client, "Tenant A")
    tokens = install(client, a["headers"], app)
    created = client.post(
        CUSTOMERS,
        json={"kind": "company", "name": "Via the app", "owner_id": _me(client, a)},
        headers=bearer(tokens["access_token"]),
    ).json()
    denied = client.get("/api/v1/members", headers=bearer(tokens["access_token"]))
    assert denied.status_code == 403
    client.post(
        "/oauth/revoke", data={"token": tokens["access_token"]}, auth=(app["client_id"], app["client_secret"])
    )
    client.delete(f"/api/v1/app-installations/{tokens['installation_id']}", headers=a["headers"])

    entries = client.get("/api/v1/audit", params={"limit": "200"}, headers=a["headers"]).json()["items"]
    by_app = [e for e in entries if e["actor_type"] == "app"]
    assert {e["actor_id"] for e in by_app} == {app["id"]}
    assert any(e["entity_type"] == "customers" and e["entity_id"] == created["id"] for e in by_app)
    assert any(
        e["action"] == "permission.denied" and e["changes"]["code"] == "insufficient_scope" for e in by_app
    )
    assert any(e["action"] == "app.token_revoked" for e in by_app)
    me = _me(client, a)
    authorized = [e for e in entries if e["action"] == "app.authorized"]
    assert authorized[0]["actor_id"] == me
    assert authorized[0]["changes"]["scopes"] == ["customers:read", "customers:write"]
    installation = [e for e in entries if e["entity_type"] == "app_installations" and e["action"] == "update"]
    assert installation[-1]["changes"]["after"]["uninstalled_at"] is not None
    for entry in entries:
        for secret in (tokens["access_token"], tokens["refresh_token"], app["client_secret"]):
            assert secret not in str(entry)
    client.patch(f"/api/v1/apps/{app['id']}", json={"name": "Sync Pro 2"}, headers=dev["headers"])
    rotated = client.post(f"/api/v1/apps/{app['id']}/rotate-secret", headers=dev["headers"]).json()
    webhook = client.post(f"/api/v1/apps/{app['id']}/rotate-webhook-secret", headers=dev["headers"]).json()
    developer_log = client.get("/api/v1/audit", params={"limit": "200"}, headers=dev["headers"]).json()[
        "items"
    ]
    changes = [e for e in developer_log if e["entity_type"] == "apps" and e["entity_id"] == app["id"]]
    assert [e["action"] for e in changes] == ["create", "update", "update", "update"]
    assert changes[0]["changes"]["after"]["client_secret_hash"] == "[redacted]"
    assert changes[0]["changes"]["after"]["webhook_secret"] == "[redacted]"
    assert changes[3]["changes"]["after"]["webhook_secret"] == "[redacted]"
    assert changes[1]["changes"]["after"] == {"name": "Sync Pro 2"}
    assert changes[2]["changes"]["after"]["client_secret_hash"] == "[redacted]"
    assert {e["actor_id"] for e in changes} == {_me(client, dev)}
    assert rotated["client_secret"] not in str(developer_log)
    for secret in (app["webhook_secret"], webhook["webhook_secret"]):
        assert secret not in str(developer_log)


def test_the_metadata_document_describes_the_server(client: TestClient[Any]) -> None:
    response = client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    body = response.json()
    assert body["authorization_endpoint"] == "http://127.0.0.1:8000/oauth/authorize"
    assert body["token_endpoint"] == "http://127.0.0.1:8000/oauth/token"
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert "customers:read" in body["scopes_supported"]
    schema = client.get("/schema/openapi.json").json()
    token_form = schema["paths"]["/oauth/token"]["post"]["requestBody"]["content"]
    assert "grant_type" in token_form["application/x-www-form-urlencoded"]["schema"]["properties"]
    assert "security" not in schema["paths"]["/oauth/token"]["post"]
    assert schema["paths"]["/oauth/authorize"]["get"]["security"] == [{"BearerToken": []}]
