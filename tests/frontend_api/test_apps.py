"""Registering apps: a developer's business owns its apps; the secret is shown once, stored
hashed and rotatable; URIs, scopes and webhook events are checked; installations are listed
and uninstalled by the installing business only."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from core.kernel.database import Database
from core.kernel.settings import Settings
from tests.app_helpers import APPS, REDIRECT, authorize_params, code_for, install, pkce, register_app, token
from tests.helpers import add_member, signup

INSTALLATIONS = "/api/v1/app-installations"
MISSING = "01234567-89ab-7def-8123-456789abcdef"


def _app_rows(settings: Settings) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        db = Database(settings.database_url)
        try:
            async with db.transaction() as session:
                return [dict(r._mapping) for r in await session.execute(text("SELECT * FROM apps"))]
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_a_new_app_shows_its_secret_once_and_stores_only_its_hash(
    client: TestClient[Any], settings: Settings
) -> None:
    dev = signup(client, "Dev Co")
    created = register_app(client, dev["headers"], description="Syncs customers", homepage_url=REDIRECT)
    secret = created["client_secret"]
    assert secret.startswith("hkcs_")
    assert created["client_id"].startswith("app_")
    assert created["client_type"] == "confidential"
    assert secret.startswith(created["secret_prefix"])
    assert created["scopes"] == ["customers:read", "customers:write"]

    shown = client.get(f"{APPS}/{created['id']}", headers=dev["headers"])
    listed = client.get(APPS, headers=dev["headers"])
    assert shown.status_code == 200
    assert shown.headers["etag"] == '"1"'
    assert [a["id"] for a in listed.json()["items"]] == [created["id"]]
    for response in (shown, listed):
        assert secret not in response.text
        assert "client_secret" not in response.text
    [row] = _app_rows(settings)
    assert row["client_secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert all(secret not in str(value) for value in row.values())


def test_a_business_sees_and_changes_only_its_own_apps(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    other = signup(client, "Other Dev")
    app = register_app(client, dev["headers"])
    register_app(client, other["headers"], name="Theirs")

    assert [a["name"] for a in client.get(APPS, headers=dev["headers"]).json()["items"]] == ["Sync Pro"]
    missing = client.get(f"{APPS}/{MISSING}", headers=other["headers"])
    for response in (
        client.get(f"{APPS}/{app['id']}", headers=other["headers"]),
        client.patch(f"{APPS}/{app['id']}", json={"name": "Hijacked"}, headers=other["headers"]),
        client.post(f"{APPS}/{app['id']}/rotate-secret", headers=other["headers"]),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == missing.json()["code"] == "not_found"
    assert client.get(f"{APPS}/{app['id']}", headers=dev["headers"]).json()["name"] == "Sync Pro"


def test_every_app_route_needs_apps_develop(client: TestClient[Any], settings: Settings) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    rep = add_member(client, settings, dev["tenant_id"], "sales_rep")["headers"]
    for response in (
        client.get(APPS, headers=rep),
        client.get(f"{APPS}/scopes", headers=rep),
        client.post(
            APPS, json={"name": "X", "redirect_uris": [REDIRECT], "scopes": ["tenant:read"]}, headers=rep
        ),
        client.get(f"{APPS}/{app['id']}", headers=rep),
        client.patch(f"{APPS}/{app['id']}", json={"name": "X"}, headers=rep),
        client.post(f"{APPS}/{app['id']}/rotate-secret", headers=rep),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "permission_denied"
    admin = add_member(client, settings, dev["tenant_id"], "admin")["headers"]
    assert client.get(APPS, headers=admin).status_code == 200


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"redirect_uris": ["http://app.example.com/cb"]}, "redirect_uris[0]", "insecure_uri"),
        ({"redirect_uris": [REDIRECT, "https://app.example.com/cb#frag"]}, "redirect_uris[1]", "invalid_uri"),
        ({"redirect_uris": ["app.example.com/cb"]}, "redirect_uris[0]", "invalid_uri"),
        ({"redirect_uris": []}, "redirect_uris", "required"),
        ({"scopes": ["customers:read", "customers:everything"]}, "scopes", "unknown_scope"),
        ({"scopes": []}, "scopes", "required"),
        ({"client_type": "secretive"}, "client_type", "invalid_choice"),
        ({"name": "  "}, "name", "required"),
        ({"webhook_events": ["customers.created"]}, "webhook_url", "required"),
        ({"webhook_url": "http://hooks.example.com/in"}, "webhook_url", "insecure_uri"),
        (
            {"webhook_url": "https://hooks.example.com/in", "webhook_events": ["customers.exploded"]},
            "webhook_events[0]",
            "unknown_event",
        ),
        (
            {"webhook_url": "https://hooks.example.com/in", "webhook_events": ["leads.created"]},
            "webhook_events[0]",
            "event_not_in_scopes",
        ),
    ],
)
def test_bad_registrations_are_refused_naming_the_field(
    client: TestClient[Any], change: dict[str, Any], field: str, code: str
) -> None:
    dev = signup(client, "Dev Co")
    body = {"name": "Sync Pro", "redirect_uris": [REDIRECT], "scopes": ["customers:read"], **change}
    response = client.post(APPS, json=body, headers=dev["headers"])
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert response.json()["errors"][0]["field"] == field
    assert client.get(APPS, headers=dev["headers"]).json()["items"] == []


def test_a_localhost_redirect_and_a_webhook_within_the_scopes_are_accepted(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(
        client,
        dev["headers"],
        redirect_uris=["http://localhost:8765/cb", "http://127.0.0.1:8765/cb", REDIRECT, REDIRECT],
        webhook_url="https://hooks.example.com/huike",
        webhook_events=["customers.updated", "customers.created"],
    )
    assert app["redirect_uris"] == ["http://localhost:8765/cb", "http://127.0.0.1:8765/cb", REDIRECT]
    assert app["webhook_events"] == ["customers.created", "customers.updated"]


def test_the_scope_list_names_each_scope_in_two_languages_with_its_permissions(
    client: TestClient[Any],
) -> None:
    dev = signup(client, "Dev Co")
    scopes = {s["name"]: s for s in client.get(f"{APPS}/scopes", headers=dev["headers"]).json()}
    assert scopes["customers:read"]["permissions"] == ["customers.read"]
    assert scopes["customers:write"]["permissions"] == ["customers.create", "customers.update"]
    assert scopes["customers:read"]["label_zh"] == "查看客户及其联系人（手机号和证件号打码显示）"
    assert scopes["customers:read"]["label_en"].startswith("See customers")
    assert not any(
        p.startswith(("roles.", "api_keys.", "apps.")) for s in scopes.values() for p in s["permissions"]
    )


def test_changing_an_app_checks_its_version_and_its_fields(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    path = f"{APPS}/{app['id']}"
    changed = client.patch(
        path,
        json={"name": "Sync Pro 2", "redirect_uris": ["https://app.example.com/v2"]},
        headers={**dev["headers"], "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["redirect_uris"] == ["https://app.example.com/v2"]
    assert changed.headers["etag"] == '"2"'
    stale = client.patch(path, json={"name": "Late"}, headers={**dev["headers"], "If-Match": '"1"'})
    assert stale.status_code == 412
    bad = client.patch(path, json={"scopes": ["nope:read"]}, headers=dev["headers"])
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "scopes"
    assert client.get(path, headers=dev["headers"]).json()["name"] == "Sync Pro 2"


def test_rotating_the_secret_stops_the_old_one_at_once(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    customer = signup(client, "Customer Co")
    tokens = install(client, customer["headers"], app)
    rotated = client.post(f"{APPS}/{app['id']}/rotate-secret", headers=dev["headers"])
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["client_secret"]
    assert new_secret != app["client_secret"]
    assert client.get(f"{APPS}/{app['id']}", headers=dev["headers"]).json()["secret_rotated_at"]

    old = token(client, app, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert old.status_code == 401
    assert old.json()["error"] == "invalid_client"
    new = token(
        client,
        {**app, "client_secret": new_secret},
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
    )
    assert new.status_code == 200, new.text


def test_a_public_client_gets_no_secret_and_has_none_to_rotate(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"], client_type="public")
    assert app["client_secret"] is None
    assert app["secret_prefix"] is None
    rotated = client.post(f"{APPS}/{app['id']}/rotate-secret", headers=dev["headers"])
    assert rotated.status_code == 422
    assert rotated.json()["code"] == "not_confidential"


def test_an_api_key_cannot_register_apps(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    key = client.post(
        "/api/v1/api-keys", json={"name": "k", "grants": {"apps.develop": "all"}}, headers=dev["headers"]
    ).json()["key"]
    response = client.post(
        APPS,
        json={"name": "X", "redirect_uris": [REDIRECT], "scopes": ["tenant:read"]},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "not_a_person"


def test_installations_are_listed_shown_and_uninstalled_by_their_business_only(
    client: TestClient[Any], settings: Settings
) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    a = signup(client, "Tenant A")
    b = signup(client, "Tenant B")
    tokens = install(client, a["headers"], app, scopes=["customers:read"])
    installation_id = tokens["installation_id"]

    [listed] = client.get(INSTALLATIONS, headers=a["headers"]).json()["items"]
    assert listed["id"] == installation_id
    assert listed["app_name"] == "Sync Pro"
    assert listed["developer"]["name"] == "Dev Co"
    assert [s["name"] for s in listed["granted_scopes"]] == ["customers:read"]
    assert client.get(INSTALLATIONS, headers=b["headers"]).json()["items"] == []
    assert client.get(INSTALLATIONS, headers=dev["headers"]).json()["items"] == []

    path = f"{INSTALLATIONS}/{installation_id}"
    missing = client.get(f"{INSTALLATIONS}/{MISSING}", headers=b["headers"]).json()
    for response in (client.get(path, headers=b["headers"]), client.delete(path, headers=b["headers"])):
        assert response.status_code == 404
        assert response.json()["code"] == missing["code"]
    rep = add_member(client, settings, a["tenant_id"], "sales_rep")["headers"]
    for response in (
        client.get(INSTALLATIONS, headers=rep),
        client.get(path, headers=rep),
        client.delete(path, headers=rep),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert client.get(path, headers=a["headers"]).json()["uninstalled_at"] is None

    assert client.delete(path, headers={**a["headers"], "If-Match": '"9"'}).status_code == 412
    assert client.delete(path, headers=a["headers"]).status_code == 204
    assert client.delete(path, headers=a["headers"]).status_code == 204
    assert client.get(path, headers=a["headers"]).json()["uninstalled_at"] is not None
    assert client.get(INSTALLATIONS, headers=a["headers"]).json()["items"] == []


def _installers(client: TestClient[Any], headers: dict[str, str], app: dict[str, Any], **query: Any) -> Any:
    return client.get(f"{APPS}/{app['id']}/installations", params=query, headers=headers)


def _installed_at(client: TestClient[Any], admin: dict[str, str]) -> str:
    [installation] = client.get(INSTALLATIONS, headers=admin).json()["items"]
    installed_at: str = installation["installed_at"]
    return installed_at


def test_the_developer_sees_each_business_that_installed_the_app_until_it_uninstalls(
    client: TestClient[Any],
) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    b = signup(client, "Tenant B")
    assert _installers(client, dev["headers"], app).json() == {"items": [], "next_cursor": None}

    installation_id = install(client, b["headers"], app)["installation_id"]
    listed = _installers(client, dev["headers"], app)
    assert listed.status_code == 200, listed.text
    [seen] = listed.json()["items"]
    assert seen["tenant_id"] == b["tenant_id"]
    assert seen["name"] == "Tenant B"
    assert seen["installed_at"] == _installed_at(client, b["headers"])
    assert [s["name"] for s in seen["granted_scopes"]] == ["customers:read", "customers:write"]
    assert seen["granted_scopes"][0]["label_zh"] == "查看客户及其联系人（手机号和证件号打码显示）"

    code_for(client, b["headers"], app, scopes=["customers:read"])  # a narrower consent
    [narrowed] = _installers(client, dev["headers"], app).json()["items"]
    assert [s["name"] for s in narrowed["granted_scopes"]] == ["customers:read"]
    assert narrowed["installed_at"] == seen["installed_at"]  # still the same installation

    assert client.delete(f"{INSTALLATIONS}/{installation_id}", headers=b["headers"]).status_code == 204
    assert _installers(client, dev["headers"], app).json()["items"] == []

    install(client, b["headers"], app)
    [again] = _installers(client, dev["headers"], app).json()["items"]
    assert again["installed_at"] == _installed_at(client, b["headers"])
    assert again["installed_at"] > seen["installed_at"]


def test_the_developer_sees_the_scopes_in_effect_sorted_and_paged(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    b = signup(client, "Tenant B")
    c = signup(client, "Tenant C")
    install(client, c["headers"], app)
    install(client, b["headers"], app)
    # Taking a scope away from the app takes it away from every installation at once.
    assert (
        client.patch(
            f"{APPS}/{app['id']}", json={"scopes": ["customers:write"]}, headers=dev["headers"]
        ).status_code
        == 200
    )

    first = _installers(client, dev["headers"], app, sort="-installed_at", limit=1).json()
    assert [i["name"] for i in first["items"]] == ["Tenant B"]
    assert [s["name"] for s in first["items"][0]["granted_scopes"]] == ["customers:write"]
    rest = _installers(
        client, dev["headers"], app, sort="-installed_at", limit=1, cursor=first["next_cursor"]
    ).json()
    assert [i["name"] for i in rest["items"]] == ["Tenant C"]
    assert rest["next_cursor"] is None
    bad = _installers(client, dev["headers"], app, sort="name")
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_sort"


def test_only_the_developer_business_holding_apps_develop_sees_the_installations(
    client: TestClient[Any], settings: Settings
) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    other = signup(client, "Other Dev")
    b = signup(client, "Tenant B")
    install(client, b["headers"], app)

    missing = client.get(f"{APPS}/{MISSING}/installations", headers=dev["headers"])
    assert missing.status_code == 404
    for headers in (other["headers"], b["headers"]):  # another developer; the installing business
        response = _installers(client, headers, app)
        assert response.status_code == 404, response.text
        assert response.json()["code"] == missing.json()["code"] == "not_found"
        assert "Tenant B" not in response.text
    rep = add_member(client, settings, dev["tenant_id"], "sales_rep")["headers"]
    denied = _installers(client, rep, app)
    assert denied.status_code == 403
    assert denied.json()["code"] == "permission_denied"
    admin = add_member(client, settings, dev["tenant_id"], "admin")["headers"]
    assert [i["name"] for i in _installers(client, admin, app).json()["items"]] == ["Tenant B"]


def test_the_consent_screen_says_what_the_developer_will_see(client: TestClient[Any]) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    b = signup(client, "Tenant B")
    screen = client.get("/oauth/authorize", params=authorize_params(app, pkce()[1]), headers=b["headers"])
    assert screen.status_code == 200, screen.text
    notice = screen.json()["developer_sees"]
    assert notice["text_en"] == (
        "Dev Co, the developer, will see your business's name (Tenant B) and id, when the app was "
        "installed, the permissions you grant, and the log of the events sent to the app."
    )
    assert notice["text_zh"] == (
        "开发者Dev Co将看到贵企业的名称（Tenant B）和编号、安装时间、您授予的权限，"
        "以及发送给该应用的事件记录。"
    )
