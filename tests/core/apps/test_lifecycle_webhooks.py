"""An app's own lifecycle by webhook: ``apps.installed`` when a business installs it (or
consents again), ``apps.uninstalled`` as the last delivery when a business uninstalls it.
Neither needs a scope, and each reaches only the app it is about, never another app the same
business installed."""

from __future__ import annotations

import json
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from core.webhooks.signing import verify
from tests.app_helpers import install, register_app
from tests.helpers import signup
from tests.http_server import HTTPServer, Reply
from tests.webhook_helpers import drain, retry_due

INSTALLATIONS = "/api/v1/app-installations"


def _events(receiver: HTTPServer, path: str) -> list[tuple[str, dict[str, Any]]]:
    return [(r.header("Huike-Event") or "", json.loads(r.body)) for r in receiver.requests_to(path)]


def test_an_app_hears_of_its_own_installation_and_of_no_other_apps(
    jobs_client: TestClient[Litestar], receiver: HTTPServer
) -> None:
    client = jobs_client
    dev = signup(client, "Dev Co")
    # No read scope at all: an app's own lifecycle needs none.
    first = register_app(
        client,
        dev["headers"],
        scopes=["customers:write"],
        webhook_url=receiver.url("/first"),
        webhook_events=["apps.installed"],
    )
    second = register_app(
        client,
        dev["headers"],
        name="Second app",
        webhook_url=receiver.url("/second"),
        webhook_events=["apps.installed", "apps.uninstalled"],
    )
    a, b = signup(client, "Tenant A"), signup(client, "Tenant B")
    first_in_a = install(client, a["headers"], first)
    second_in_a = install(client, a["headers"], second, scopes=["customers:read"])
    second_in_b = install(client, b["headers"], second)
    drain(client)

    [(event, body)] = _events(receiver, "/first")
    assert event == "apps.installed"
    assert body["tenant_id"] == a["tenant_id"]
    assert body["data"]["installation_id"] == first_in_a["installation_id"]
    assert body["data"]["scopes"] == ["customers:write"]
    [request] = receiver.requests_to("/first")
    assert verify(first["webhook_secret"], request.header("Huike-Signature") or "", request.body)
    heard = {(body["tenant_id"], body["data"]["installation_id"]) for _, body in _events(receiver, "/second")}
    assert heard == {
        (a["tenant_id"], second_in_a["installation_id"]),
        (b["tenant_id"], second_in_b["installation_id"]),
    }


def test_a_consent_again_is_heard_with_the_new_scopes(
    jobs_client: TestClient[Litestar], receiver: HTTPServer
) -> None:
    client = jobs_client
    dev = signup(client, "Dev Co")
    app = register_app(
        client, dev["headers"], webhook_url=receiver.url("/hooks"), webhook_events=["apps.installed"]
    )
    a = signup(client, "Tenant A")
    install(client, a["headers"], app)
    install(client, a["headers"], app, scopes=["customers:read"])
    drain(client)
    assert [body["data"]["scopes"] for _, body in _events(receiver, "/hooks")] == [
        sorted(app["scopes"]),
        ["customers:read"],
    ]


def test_an_uninstalled_app_is_told_so_last_and_retried_until_it_hears(
    jobs_client: TestClient[Litestar], receiver: HTTPServer
) -> None:
    client = jobs_client
    dev = signup(client, "Dev Co")
    app = register_app(
        client,
        dev["headers"],
        webhook_url=receiver.url("/hooks"),
        webhook_events=["customers.created", "apps.uninstalled"],
    )
    a = signup(client, "Tenant A")
    installed = install(client, a["headers"], app)
    receiver.script("/hooks", [Reply(status=503)])  # the app is down when it is uninstalled

    gone = client.delete(f"{INSTALLATIONS}/{installed['installation_id']}", headers=a["headers"])
    assert gone.status_code == 204, gone.text
    drain(client)
    retry_due(client)  # the endpoint is disabled by now: this delivery is sent even so
    created = client.post("/api/v1/customers", headers=a["headers"], json={"kind": "company", "name": "Late"})
    assert created.status_code == 201, created.text
    drain(client)
    retry_due(client)

    first, second = receiver.requests_to("/hooks")
    assert first.header("Huike-Delivery") == second.header("Huike-Delivery")
    assert verify(app["webhook_secret"], second.header("Huike-Signature") or "", second.body)
    body = json.loads(second.body)
    assert (second.header("Huike-Event"), body["tenant_id"], body["data"]["installation_id"]) == (
        "apps.uninstalled",
        a["tenant_id"],
        installed["installation_id"],
    )
    # The business's log of the installation shows it delivered.
    log = client.get(f"{INSTALLATIONS}/{installed['installation_id']}/deliveries", headers=a["headers"])
    logged = [(d["event_name"], d["status"]) for d in log.json()["items"]]
    assert logged == [("apps.uninstalled", "succeeded")]


def test_an_app_that_did_not_choose_the_uninstall_hears_nothing_of_it(
    jobs_client: TestClient[Litestar], receiver: HTTPServer
) -> None:
    client = jobs_client
    dev = signup(client, "Dev Co")
    app = register_app(
        client, dev["headers"], webhook_url=receiver.url("/hooks"), webhook_events=["apps.installed"]
    )
    a = signup(client, "Tenant A")
    installed = install(client, a["headers"], app)
    drain(client)
    client.delete(f"{INSTALLATIONS}/{installed['installation_id']}", headers=a["headers"])
    drain(client)
    assert [event for event, _ in _events(receiver, "/hooks")] == ["apps.installed"]
