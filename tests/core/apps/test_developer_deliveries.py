"""The developer reads their app's delivery log in each business that installed it, and
replays a delivery there: only that app's deliveries, only while the business has it
installed, never another developer's app, never the business's own endpoints."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from tests.app_helpers import install, register_app
from tests.helpers import signup
from tests.http_server import HTTPServer, Reply
from tests.webhook_helpers import drain, retry_due


def _new_customer(client: TestClient[Litestar], business: dict[str, Any], name: str) -> None:
    created = client.post(
        "/api/v1/customers", headers=business["headers"], json={"kind": "company", "name": name}
    )
    assert created.status_code == 201, created.text


def _log(app: dict[str, Any], business: dict[str, Any]) -> str:
    return f"/api/v1/apps/{app['id']}/installations/{business['tenant_id']}/deliveries"


def test_the_developer_reads_and_replays_their_apps_deliveries_in_each_business(
    jobs_client: TestClient[Litestar], receiver: HTTPServer
) -> None:
    client = jobs_client
    dev = signup(client, "Dev Co")
    app = register_app(
        client, dev["headers"], webhook_url=receiver.url("/app"), webhook_events=["customers.created"]
    )
    a, b = signup(client, "Tenant A"), signup(client, "Tenant B")
    install(client, a["headers"], app)
    install(client, b["headers"], app)
    # A's own endpoint hears the same event; its delivery is A's business, not the developer's.
    assert client.post("/api/v1/tenant/plugins/webhooks/enable", headers=a["headers"], json={}).is_success
    own = client.post(
        "/api/v1/plugins/webhooks/endpoints",
        headers=a["headers"],
        json={"url": receiver.url("/own"), "events": ["*"]},
    )
    assert own.status_code == 201, own.text
    receiver.script("/app", [Reply(status=500), Reply(status=500)])
    _new_customer(client, a, "Globex")
    drain(client)
    retry_due(client)
    _new_customer(client, b, "Initech")
    drain(client)
    assert len(receiver.requests_to("/own")) == 1

    listed = client.get(_log(app, a), headers=dev["headers"])
    assert listed.status_code == 200, listed.text
    [delivery] = listed.json()["items"]
    assert (delivery["event_name"], delivery["status"], delivery["last_status_code"]) == (
        "customers.created",
        "dead",
        500,
    )
    detail = client.get(f"{_log(app, a)}/{delivery['id']}", headers=dev["headers"]).json()
    assert [attempt["status_code"] for attempt in detail["attempt_log"]] == [500, 500]
    [b_delivery] = client.get(_log(app, b), headers=dev["headers"]).json()["items"]
    assert b_delivery["status"] == "succeeded"
    # A's delivery is not found under B.
    assert client.get(f"{_log(app, b)}/{delivery['id']}", headers=dev["headers"]).status_code == 404

    replayed = client.post(f"{_log(app, a)}/{delivery['id']}/replay", headers=dev["headers"])
    assert replayed.status_code == 202, replayed.text
    drain(client)
    assert client.get(f"{_log(app, a)}/{delivery['id']}", headers=dev["headers"]).json()["status"] == (
        "succeeded"
    )
    # The business sees the developer's replay in its own log of the installation.
    [installation] = client.get("/api/v1/app-installations", headers=a["headers"]).json()["items"]
    theirs = client.get(
        f"/api/v1/app-installations/{installation['id']}/deliveries/{delivery['id']}", headers=a["headers"]
    ).json()
    assert (theirs["status"], theirs["series"]) == ("succeeded", 1)


def test_only_the_apps_developer_sees_it_and_only_while_installed(
    jobs_client: TestClient[Litestar], receiver: HTTPServer
) -> None:
    client = jobs_client
    dev, rival = signup(client, "Dev Co"), signup(client, "Rival Co")
    app = register_app(
        client, dev["headers"], webhook_url=receiver.url("/app"), webhook_events=["customers.created"]
    )
    a, never = signup(client, "Tenant A"), signup(client, "Never installed")
    installed = install(client, a["headers"], app)
    _new_customer(client, a, "Globex")
    drain(client)
    [delivery] = client.get(_log(app, a), headers=dev["headers"]).json()["items"]

    # Another developer, even one who knows the ids, finds nothing; nor does the business itself.
    for headers in (rival["headers"], a["headers"]):
        assert client.get(_log(app, a), headers=headers).status_code == 404
        assert client.get(f"{_log(app, a)}/{delivery['id']}", headers=headers).status_code == 404
        assert client.post(f"{_log(app, a)}/{delivery['id']}/replay", headers=headers).status_code == 404
    assert client.get(_log(app, never), headers=dev["headers"]).status_code == 404

    gone = client.delete(f"/api/v1/app-installations/{installed['installation_id']}", headers=a["headers"])
    assert gone.status_code == 204, gone.text
    assert client.get(_log(app, a), headers=dev["headers"]).status_code == 404
    assert client.post(f"{_log(app, a)}/{delivery['id']}/replay", headers=dev["headers"]).status_code == 404
