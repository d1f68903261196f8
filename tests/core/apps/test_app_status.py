"""Stopping an app everywhere: a platform admin suspends it (and resumes it), its developer
deletes it. Either takes effect at once in every business that installed it: tokens, the
token endpoint and webhook deliveries; what follows inside each business is a job there."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from core.kernel.settings import Settings
from tests.app_helpers import authorize_params, bearer, install, pkce, register_app, token
from tests.helpers import platform_admin, signup
from tests.http_server import HTTPServer, Reply
from tests.webhook_helpers import drain, retry_due

PLATFORM_APPS = "/api/platform/apps"
AUDIT = "/api/v1/audit"


def _new_customer(client: TestClient[Litestar], business: dict[str, Any], name: str) -> None:
    created = client.post(
        "/api/v1/customers", headers=business["headers"], json={"kind": "company", "name": name}
    )
    assert created.status_code == 201, created.text


def _calls(client: TestClient[Litestar], tokens: dict[str, Any]) -> int:
    return client.get("/api/v1/customers", headers=bearer(tokens["access_token"])).status_code


def _hooked_app(client: TestClient[Litestar], receiver: HTTPServer) -> tuple[dict[str, Any], dict[str, Any]]:
    dev = signup(client, "Dev Co")
    app = register_app(
        client,
        dev["headers"],
        name="Sync Pro",
        webhook_url=receiver.url("/app"),
        webhook_events=["customers.created"],
    )
    return dev, app


def test_a_suspended_app_stops_in_every_business_at_once_and_resumes(
    jobs_client: TestClient[Litestar], receiver: HTTPServer, settings: Settings
) -> None:
    client = jobs_client
    dev, app = _hooked_app(client, receiver)
    a, b, c = signup(client, "Tenant A"), signup(client, "Tenant B"), signup(client, "Tenant C")
    a_tokens, b_tokens = install(client, a["headers"], app), install(client, b["headers"], app)
    assert _calls(client, a_tokens) == _calls(client, b_tokens) == 200
    admin = platform_admin(client, settings)

    unexplained = client.post(f"{PLATFORM_APPS}/{app['id']}/suspend", headers=admin, json={})
    assert unexplained.status_code == 422
    assert unexplained.json()["errors"][0]["field"] == "reason"
    suspended = client.post(
        f"{PLATFORM_APPS}/{app['id']}/suspend", headers=admin, json={"reason": "Phishing reports"}
    )
    assert suspended.status_code == 200, suspended.text
    assert (suspended.json()["status"], suspended.json()["installations"]) == ("suspended", 2)

    assert _calls(client, a_tokens) == _calls(client, b_tokens) == 401
    machine = token(client, app, grant_type="client_credentials", tenant=a["tenant_id"])
    assert (machine.status_code, machine.json()["error"]) == (401, "invalid_client")
    refreshed = token(client, app, grant_type="refresh_token", refresh_token=a_tokens["refresh_token"])
    assert refreshed.json()["error"] == "invalid_client"
    # A business about to install it is told why it cannot.
    _, challenge = pkce()
    consent = client.get("/oauth/authorize", params=authorize_params(app, challenge), headers=c["headers"])
    assert (consent.status_code, consent.json()["error"]) == (400, "invalid_client")
    assert "Phishing reports" in consent.json()["error_description"]
    _new_customer(client, a, "While suspended")
    drain(client)
    assert receiver.requests_to("/app") == []
    # The developer and the businesses see why.
    shown = client.get(f"/api/v1/apps/{app['id']}", headers=dev["headers"]).json()
    assert (shown["status"], shown["status_reason"]) == ("suspended", "Phishing reports")
    [installed] = client.get("/api/v1/app-installations", headers=a["headers"]).json()["items"]
    assert (installed["app_status"], installed["app_status_reason"]) == ("suspended", "Phishing reports")
    found = client.get(PLATFORM_APPS, headers=admin, params={"q": "sync", "status": "suspended"}).json()
    assert [item["id"] for item in found["items"]] == [app["id"]]
    assert client.get(PLATFORM_APPS, headers=admin, params={"status": "active"}).json()["items"] == []

    resumed = client.post(f"{PLATFORM_APPS}/{app['id']}/resume", headers=admin, json={})
    assert resumed.status_code == 200, resumed.text
    assert (resumed.json()["status"], resumed.json()["status_reason"]) == ("active", None)
    assert _calls(client, a_tokens) == 200
    _new_customer(client, a, "After the resume")
    drain(client)
    assert len(receiver.requests_to("/app")) == 1


def test_a_suspension_stops_the_retries_of_earlier_deliveries(
    jobs_client: TestClient[Litestar], receiver: HTTPServer, settings: Settings
) -> None:
    client = jobs_client
    _, app = _hooked_app(client, receiver)
    a = signup(client, "Tenant A")
    install(client, a["headers"], app)
    receiver.script("/app", [Reply(status=503)])
    _new_customer(client, a, "Before the suspension")
    drain(client)  # the first attempt failed; a retry is due
    admin = platform_admin(client, settings)
    client.post(f"{PLATFORM_APPS}/{app['id']}/suspend", headers=admin, json={"reason": "Abuse"})
    drain(client)  # the business's job disables the app's endpoint there
    retry_due(client)
    assert len(receiver.requests_to("/app")) == 1
    [installed] = client.get("/api/v1/app-installations", headers=a["headers"]).json()["items"]
    log = client.get(f"/api/v1/app-installations/{installed['id']}/deliveries", headers=a["headers"])
    assert [d["status"] for d in log.json()["items"]] == ["dead"]


def test_the_developer_deletes_their_app_and_it_is_uninstalled_everywhere(
    jobs_client: TestClient[Litestar], receiver: HTTPServer, settings: Settings
) -> None:
    client = jobs_client
    dev, app = _hooked_app(client, receiver)
    rival = signup(client, "Rival Co")
    a = signup(client, "Tenant A")
    a_tokens = install(client, a["headers"], app)
    url = f"/api/v1/apps/{app['id']}"

    assert client.delete(url, headers=rival["headers"]).status_code == 404
    stale = client.delete(url, headers={**dev["headers"], "If-Match": '"0"'})
    assert stale.status_code == 412
    deleted = client.delete(url, headers={**dev["headers"], "If-Match": f'"{app["version"]}"'})
    assert deleted.status_code == 204, deleted.text

    assert _calls(client, a_tokens) == 401
    assert client.get(url, headers=dev["headers"]).status_code == 404
    assert client.get("/api/v1/apps", headers=dev["headers"]).json()["items"] == []
    drain(client)
    assert client.get("/api/v1/app-installations", headers=a["headers"]).json()["items"] == []
    _new_customer(client, a, "After the deletion")
    drain(client)
    assert receiver.requests_to("/app") == []
    # The platform still knows it (its client id is never reused), but cannot bring it back.
    admin = platform_admin(client, settings)
    shown = client.get(f"{PLATFORM_APPS}/{app['id']}", headers=admin).json()
    assert (shown["status"], shown["installations"]) == ("deleted", 0)
    revived = client.post(f"{PLATFORM_APPS}/{app['id']}/resume", headers=admin, json={})
    assert (revived.status_code, revived.json()["code"]) == (422, "app_deleted")


def test_suspending_and_deleting_an_app_are_in_its_developers_audit_log(
    jobs_client: TestClient[Litestar], receiver: HTTPServer, settings: Settings
) -> None:
    client = jobs_client
    dev, app = _hooked_app(client, receiver)
    admin = platform_admin(client, settings)
    client.post(f"{PLATFORM_APPS}/{app['id']}/suspend", headers=admin, json={"reason": "Abuse"})
    client.post(f"{PLATFORM_APPS}/{app['id']}/resume", headers=admin, json={})
    client.delete(f"/api/v1/apps/{app['id']}", headers=dev["headers"])

    entries = client.get(AUDIT, headers=dev["headers"], params={"entity_type": "apps", "limit": "50"}).json()
    changes = [
        (e["actor_type"], e["changes"]["after"].get("status"))
        for e in entries["items"]
        if e["action"] == "update" and "status" in e["changes"].get("after", {})
    ]
    assert sorted(changes) == sorted(
        [("platform_admin", "suspended"), ("platform_admin", "active"), ("user", "deleted")]
    )
