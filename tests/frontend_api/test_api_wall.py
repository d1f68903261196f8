"""Wall 3: another tenant's object id is a 404 with the same body as a missing id.

The walk reads the OpenAPI document, so every route with an id in its path is covered as
soon as it exists: tenant B tries every id tenant A has, on every method, and never gets a
2xx, nor an answer that differs from the one for an id that exists nowhere.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from core.kernel.settings import Settings
from frontend_api.app import create_app
from tests.app_helpers import install, register_app
from tests.helpers import add_member, signup

MISSING = "01234567-89ab-7def-8123-456789abcdef"
_PARAM = re.compile(r"\{[^}]+\}")


@pytest.fixture
def app(settings: Settings) -> Litestar:
    """The walk sends thousands of requests with one credential: no rate limit here (the
    limits have their own tests)."""
    return create_app(dataclasses.replace(settings, rate_limit_enabled=False))


def _tenant_a_ids(client: TestClient[Any], settings: Settings) -> tuple[dict[str, Any], set[str]]:
    a = signup(client, "Tenant A")
    member = add_member(client, settings, a["tenant_id"], "sales_rep")
    headers = a["headers"]
    team = client.post("/api/v1/teams", headers=headers, json={"name": "A team"}).json()
    role = client.post("/api/v1/roles", headers=headers, json={"name": "A role", "grants": {}}).json()
    customer = client.post(
        "/api/v1/customers",
        headers=headers,
        json={"kind": "company", "name": "A customer", "contacts": [{"name": "A contact"}]},
    ).json()
    contact = customer["contacts"][0]
    activity = client.post(
        "/api/v1/activities",
        headers=headers,
        json={"kind": "task", "subject_type": "customer", "subject_id": customer["id"], "subject": "A task"},
    ).json()
    ids = {a["tenant_id"], member["member_id"], team["id"], role["id"], customer["id"], contact["id"]}
    ids.add(activity["id"])
    pooled = client.post("/api/v1/customers", headers=headers, json={"kind": "company", "name": "A pooled"})
    assert client.post(f"/api/v1/customers/{pooled.json()['id']}/release", headers=headers).status_code == 200
    ids.add(pooled.json()["id"])
    ids.add(client.post("/api/v1/leads", headers=headers, json={"name": "A lead"}).json()["id"])
    ids.add(client.post("/api/v1/lead-forms", headers=headers, json={"name": "A form"}).json()["id"])
    rule = {"name": "A rule", "strategy": "round_robin", "team_id": team["id"]}
    ids.add(client.post("/api/v1/lead-assignment-rules", headers=headers, json=rule).json()["id"])
    upload = {"file": ("a.csv", "客户名称\n甲\n".encode(), "text/csv")}
    ids.add(
        client.post("/api/v1/imports", headers=headers, files=upload, data={"entity": "customer"}).json()[
            "id"
        ]
    )
    app = register_app(client, headers)
    ids |= {app["id"], install(client, headers, app)["installation_id"]}
    deal = {"name": "A deal", "customer_id": customer["id"]}
    ids.add(client.post("/api/v1/opportunities", headers=headers, json=deal).json()["id"])
    for listing in (
        "/api/v1/roles",
        "/api/v1/members",
        "/api/v1/teams",
        "/api/v1/api-keys",
        "/api/v1/invitations",
        "/api/v1/pipelines",
        "/api/v1/customers",
        "/api/v1/activities",
    ):
        response = client.get(f"{listing}?limit=200", headers=headers)
        if response.status_code == 200:
            ids |= {item["id"] for item in response.json()["items"]}
            ids |= {stage["id"] for item in response.json()["items"] for stage in item.get("stages", [])}
    key = client.post(
        "/api/v1/api-keys", headers=headers, json={"name": "A key", "grants": {"roles.read": "all"}}
    )
    if key.status_code == 201:
        ids.add(key.json()["id"])
    return a, ids


def _comparable(response: Any) -> tuple[int, dict[str, Any]]:
    body = response.json() if response.content else {}
    body.pop("request_id", None)
    return response.status_code, body


def test_no_route_answers_2xx_for_another_tenants_ids(client: TestClient[Any], settings: Settings) -> None:
    _, a_ids = _tenant_a_ids(client, settings)
    b = signup(client, "Tenant B")
    schema = client.get("/schema/openapi.json").json()
    templated = {path: ops for path, ops in schema["paths"].items() if _PARAM.search(path)}
    assert templated, "the walk found no route with an id"
    tried = 0
    for path, operations in templated.items():
        for method in operations:
            if method not in {"get", "put", "patch", "delete", "post"}:
                continue
            baseline = _comparable(
                client.request(method, _PARAM.sub(MISSING, path), headers=b["headers"], json={})
            )
            for foreign_id in a_ids:
                response = client.request(method, _PARAM.sub(foreign_id, path), headers=b["headers"], json={})
                tried += 1
                assert not 200 <= response.status_code < 300, (method, path, response.text)
                assert _comparable(response) == baseline, (method, path, foreign_id)
    assert tried >= 5 * len(a_ids)
