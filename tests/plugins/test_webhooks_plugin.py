"""The ``webhooks`` plugin: a business that enabled it adds an endpoint, and its events reach
the endpoint signed; the delivery log shows the response; a business without it has no
routes and sends nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from core.kernel.settings import Settings
from core.webhooks.signing import verify
from tests.helpers import signup
from tests.http_server import HTTPServer, Reply, running
from tests.webhook_helpers import drain, retry_due, webhook_client

API = "/api/v1/plugins/webhooks"


@pytest.fixture
def receiver() -> Iterator[HTTPServer]:
    with running() as server:
        yield server


@pytest.fixture
def jobs_client(settings: Settings) -> Iterator[TestClient[Litestar]]:
    with webhook_client(settings) as client:
        yield client


def _enable(client: TestClient[Any], headers: dict[str, str]) -> None:
    enabled = client.post("/api/v1/tenant/plugins/webhooks/enable", headers=headers, json={})
    assert enabled.status_code == 200, enabled.text


def test_an_enabled_business_gets_its_events_signed_at_its_endpoint(
    jobs_client: TestClient[Litestar], receiver: HTTPServer
) -> None:
    client = jobs_client
    acme, other = signup(client, "Acme"), signup(client, "Other")
    assert client.get(f"{API}/endpoints", headers=acme["headers"]).status_code == 404
    _enable(client, acme["headers"])
    assert "customers.created" in client.get(f"{API}/events", headers=acme["headers"]).json()
    created = client.post(
        f"{API}/endpoints",
        headers=acme["headers"],
        json={"url": receiver.url("/hooks"), "events": ["customers.*"]},
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    customer = client.post(
        "/api/v1/customers", headers=acme["headers"], json={"kind": "company", "name": "Globex"}
    )
    client.post("/api/v1/customers", headers=other["headers"], json={"kind": "company", "name": "Initech"})
    drain(client)
    [request] = receiver.requests_to("/hooks")
    assert request.header("Huike-Event") == "customers.created"
    assert verify(secret, request.header("Huike-Signature") or "", request.body)
    body = json.loads(request.body)
    assert body["data"]["customer_id"] == customer.json()["id"]
    log = client.get(f"{API}/deliveries", headers=acme["headers"]).json()["items"]
    assert [(d["event_name"], d["status"], d["last_status_code"]) for d in log] == [
        ("customers.created", "succeeded", 200)
    ]
    assert request.header("Huike-Delivery") == log[0]["id"]
    # The other business never enabled it: no routes, and its customer went nowhere.
    assert client.get(f"{API}/deliveries", headers=other["headers"]).status_code == 404


def test_a_failed_delivery_is_logged_with_its_code_and_replayed(
    jobs_client: TestClient[Litestar], receiver: HTTPServer
) -> None:
    client = jobs_client
    acme = signup(client, "Acme")
    _enable(client, acme["headers"])
    receiver.script("/hooks", [Reply(status=500), Reply(status=503), Reply(status=200)])
    endpoint = client.post(
        f"{API}/endpoints", headers=acme["headers"], json={"url": receiver.url("/hooks"), "events": ["*"]}
    ).json()
    client.post("/api/v1/customers", headers=acme["headers"], json={"kind": "company", "name": "Globex"})
    drain(client)
    retry_due(client)
    [delivery] = client.get(f"{API}/deliveries", headers=acme["headers"]).json()["items"]
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("dead", 2, 503)
    detail = client.get(f"{API}/deliveries/{delivery['id']}", headers=acme["headers"]).json()
    assert [a["status_code"] for a in detail["attempt_log"]] == [500, 503]
    replayed = client.post(f"{API}/deliveries/{delivery['id']}/replay", headers=acme["headers"])
    assert replayed.status_code == 202, replayed.text
    drain(client)
    retry_due(client)
    again = client.get(f"{API}/deliveries/{delivery['id']}", headers=acme["headers"]).json()
    assert (again["status"], again["last_status_code"]) == ("succeeded", 200)
    assert len({r.header("Huike-Delivery") for r in receiver.requests_to("/hooks")}) == 1
    assert endpoint["id"] == again["endpoint_id"]


def test_a_stale_edit_of_an_endpoint_is_refused_and_writes_nothing(client: TestClient[Litestar]) -> None:
    acme = signup(client, "Acme")
    _enable(client, acme["headers"])
    created = client.post(
        f"{API}/endpoints",
        headers=acme["headers"],
        json={"url": "https://hooks.example.com/in", "events": ["customers.*"]},
    ).json()
    shown = client.get(f"{API}/endpoints/{created['id']}", headers=acme["headers"])
    assert shown.headers["ETag"] == f'"{created["version"]}"'
    first = client.patch(
        f"{API}/endpoints/{created['id']}",
        headers={**acme["headers"], "If-Match": shown.headers["ETag"]},
        json={"events": ["*"]},
    )
    assert first.status_code == 200, first.text
    stale = client.patch(
        f"{API}/endpoints/{created['id']}",
        headers={**acme["headers"], "If-Match": shown.headers["ETag"]},
        json={"enabled": False},
    )
    assert (stale.status_code, stale.json()["code"]) == (412, "version_mismatch")
    deleted = client.delete(
        f"{API}/endpoints/{created['id']}", headers={**acme["headers"], "If-Match": shown.headers["ETag"]}
    )
    assert deleted.status_code == 412
    now = client.get(f"{API}/endpoints/{created['id']}", headers=acme["headers"]).json()
    assert (now["enabled"], now["events"]) == (True, ["*"])
