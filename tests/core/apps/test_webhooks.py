"""Apps' webhooks: an installed app gets the events it chose at its webhook URL, signed with
the webhook secret its developer was shown once, through the same retried delivery as a
business's own endpoints; a business that did not install it, or did not grant the events'
read scope, sends it nothing; uninstalling stops the deliveries."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from core.apps.models import App
from core.apps.webhook_secrets import rewrap_app_secrets, signing_secrets
from core.crypto.keyring import keyring_of
from core.crypto.service import rotate_master
from core.kernel.database import Database
from core.webhooks.signing import verify
from tests.app_helpers import install, register_app
from tests.helpers import signup
from tests.http_server import HTTPServer, Reply
from tests.webhook_helpers import drain, retry_due

CUSTOMERS = "/api/v1/customers"


def _new_customer(client: TestClient[Litestar], headers: dict[str, str], name: str) -> str:
    created = client.post(CUSTOMERS, headers=headers, json={"kind": "company", "name": name})
    assert created.status_code == 201, created.text
    customer_id: str = created.json()["id"]
    return customer_id


def _app_with_hook(
    client: TestClient[Litestar], receiver: HTTPServer, path: str = "/app-hooks"
) -> tuple[dict[str, Any], dict[str, Any]]:
    dev = signup(client, "Dev Co")
    app = register_app(
        client, dev["headers"], webhook_url=receiver.url(path), webhook_events=["customers.created"]
    )
    return dev, app


def test_an_installed_app_gets_its_events_signed_and_no_one_elses(
    jobs_client: TestClient[Litestar], receiver: HTTPServer
) -> None:
    client = jobs_client
    dev, app = _app_with_hook(client, receiver)
    assert app["webhook_secret"].startswith("whsec_")
    assert app["webhook_secret"].startswith(app["webhook_secret_prefix"])
    a, b, c = signup(client, "Tenant A"), signup(client, "Tenant B"), signup(client, "Tenant C")
    install(client, a["headers"], app)
    install(client, c["headers"], app, scopes=["customers:write"])  # no read scope: no events

    mine = _new_customer(client, a["headers"], "Globex")
    _new_customer(client, b["headers"], "Initech")
    _new_customer(client, c["headers"], "Umbrella")
    drain(client)

    [request] = receiver.requests_to("/app-hooks")
    assert request.header("Huike-Event") == "customers.created"
    assert verify(app["webhook_secret"], request.header("Huike-Signature") or "", request.body)
    body = json.loads(request.body)
    assert (body["tenant_id"], body["data"]["customer_id"]) == (a["tenant_id"], mine)
    # Shown once: reading the app again gives its prefix only.
    shown = client.get(f"/api/v1/apps/{app['id']}", headers=dev["headers"]).json()
    assert "webhook_secret" not in shown
    assert shown["webhook_secret_prefix"] == app["webhook_secret_prefix"]


def test_a_failed_app_delivery_is_retried(jobs_client: TestClient[Litestar], receiver: HTTPServer) -> None:
    client = jobs_client
    _, app = _app_with_hook(client, receiver)
    receiver.script("/app-hooks", [Reply(status=503), Reply(status=200)])
    a = signup(client, "Tenant A")
    install(client, a["headers"], app)
    _new_customer(client, a["headers"], "Globex")
    drain(client)
    retry_due(client)
    first, second = receiver.requests_to("/app-hooks")
    assert first.header("Huike-Delivery") == second.header("Huike-Delivery")
    assert first.body == second.body


def test_the_business_reads_its_apps_delivery_log_and_replays_a_delivery(
    jobs_client: TestClient[Litestar], receiver: HTTPServer
) -> None:
    client = jobs_client
    _, app = _app_with_hook(client, receiver)
    receiver.script("/app-hooks", [Reply(status=500), Reply(status=502), Reply(status=200)])
    a, b = signup(client, "Tenant A"), signup(client, "Tenant B")
    install(client, a["headers"], app)
    install(client, b["headers"], app)
    [installation] = client.get("/api/v1/app-installations", headers=a["headers"]).json()["items"]
    log = f"/api/v1/app-installations/{installation['id']}/deliveries"
    _new_customer(client, a["headers"], "Globex")
    drain(client)
    retry_due(client)

    [delivery] = client.get(log, headers=a["headers"]).json()["items"]
    assert (delivery["event_name"], delivery["status"], delivery["last_status_code"]) == (
        "customers.created",
        "dead",
        502,
    )
    detail = client.get(f"{log}/{delivery['id']}", headers=a["headers"]).json()
    assert [attempt["status_code"] for attempt in detail["attempt_log"]] == [500, 502]
    # Another business's admin finds neither the installation nor the delivery.
    assert client.get(log, headers=b["headers"]).status_code == 404
    [b_installation] = client.get("/api/v1/app-installations", headers=b["headers"]).json()["items"]
    other_log = f"/api/v1/app-installations/{b_installation['id']}/deliveries"
    assert client.get(f"{other_log}/{delivery['id']}", headers=b["headers"]).status_code == 404
    assert client.post(f"{other_log}/{delivery['id']}/replay", headers=b["headers"]).status_code == 404

    replayed = client.post(f"{log}/{delivery['id']}/replay", headers=a["headers"])
    assert replayed.status_code == 202, replayed.text
    drain(client)
    assert client.get(f"{log}/{delivery['id']}", headers=a["headers"]).json()["status"] == "succeeded"
    assert len({r.header("Huike-Delivery") for r in receiver.requests_to("/app-hooks")}) == 1


def test_uninstalling_stops_the_deliveries_and_reinstalling_resumes_them(
    jobs_client: TestClient[Litestar], receiver: HTTPServer
) -> None:
    client = jobs_client
    _, app = _app_with_hook(client, receiver)
    a = signup(client, "Tenant A")
    install(client, a["headers"], app)
    [installation] = client.get("/api/v1/app-installations", headers=a["headers"]).json()["items"]
    uninstalled = client.delete(f"/api/v1/app-installations/{installation['id']}", headers=a["headers"])
    assert uninstalled.status_code == 204, uninstalled.text
    _new_customer(client, a["headers"], "While uninstalled")
    drain(client)
    assert receiver.requests_to("/app-hooks") == []

    install(client, a["headers"], app)
    again = _new_customer(client, a["headers"], "After reinstall")
    drain(client)
    [request] = receiver.requests_to("/app-hooks")
    assert json.loads(request.body)["data"]["customer_id"] == again


def test_the_developer_changes_url_and_secret_once_for_every_installation(
    jobs_client: TestClient[Litestar], receiver: HTTPServer
) -> None:
    client = jobs_client
    dev, app = _app_with_hook(client, receiver)
    a = signup(client, "Tenant A")
    install(client, a["headers"], app)
    _new_customer(client, a["headers"], "First")
    drain(client)

    shown = client.get(f"/api/v1/apps/{app['id']}", headers=dev["headers"])
    moved = client.patch(
        f"/api/v1/apps/{app['id']}",
        headers={**dev["headers"], "If-Match": shown.headers["ETag"]},
        json={"webhook_url": receiver.url("/moved")},
    )
    assert moved.status_code == 200, moved.text
    rotated = client.post(
        f"/api/v1/apps/{app['id']}/rotate-webhook-secret",
        headers={**dev["headers"], "If-Match": moved.headers["ETag"]},
        json={"grace_seconds": 3600},
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["webhook_secret"]
    assert new_secret != app["webhook_secret"]
    assert rotated.json()["previous_secret_expires_at"]

    _new_customer(client, a["headers"], "Second")
    drain(client)
    assert len(receiver.requests_to("/app-hooks")) == 1
    [request] = receiver.requests_to("/moved")
    signature = request.header("Huike-Signature") or ""
    # During the grace period both secrets sign, so a receiver may switch at its own pace.
    assert signature.count("v1=") == 2
    assert verify(new_secret, signature, request.body)
    assert verify(app["webhook_secret"], signature, request.body)

    done = client.post(
        f"/api/v1/apps/{app['id']}/rotate-webhook-secret",
        headers={**dev["headers"], "If-Match": f'"{rotated.json()["version"]}"'},
    )
    assert done.status_code == 200, done.text
    _new_customer(client, a["headers"], "Third")
    drain(client)
    last = receiver.requests_to("/moved")[-1]
    assert (last.header("Huike-Signature") or "").count("v1=") == 1
    assert verify(done.json()["webhook_secret"], last.header("Huike-Signature") or "", last.body)
    assert not verify(new_secret, last.header("Huike-Signature") or "", last.body)


def test_a_webhook_url_must_be_one_webhooks_may_reach(client: TestClient[Litestar]) -> None:
    dev = signup(client, "Dev Co")
    for url, code in (
        ("http://hooks.example.com/in", "insecure_uri"),
        ("https://10.0.0.8/in", "private_address"),
        ("https://localhost:8443/in", "private_address"),
    ):
        refused = client.post(
            "/api/v1/apps",
            headers=dev["headers"],
            json={
                "name": "Leaky",
                "redirect_uris": ["https://app.example.com/cb"],
                "scopes": ["customers:read"],
                "webhook_url": url,
                "webhook_events": ["customers.created"],
            },
        )
        assert refused.status_code == 422, (url, refused.text)
        problem = refused.json()
        assert (problem["code"], problem["errors"][0]["field"]) == (code, "webhook_url"), url


def test_the_rotation_of_another_tenants_app_is_a_404(client: TestClient[Litestar]) -> None:
    dev, other = signup(client, "Dev Co"), signup(client, "Other Co")
    app = register_app(client, dev["headers"])
    answer = client.post(f"/api/v1/apps/{app['id']}/rotate-webhook-secret", headers=other["headers"], json={})
    assert answer.status_code == 404


@pytest.mark.anyio
async def test_a_master_key_rotation_rewraps_the_webhook_secrets(
    client: TestClient[Litestar], db: Database
) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"])
    report = await rotate_master(db, [rewrap_app_secrets])
    async with db.sessions() as session:
        row = await session.get_one(App, uuid.UUID(app["id"]))
        assert row.webhook_secret_key_id == report.master_key_id
        secrets = signing_secrets(keyring_of(session.sync_session).provider, row)
    assert secrets is not None
    assert secrets.current == app["webhook_secret"]
    assert report.retired  # nothing is left under the old master key
