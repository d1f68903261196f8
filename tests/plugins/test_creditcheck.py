"""The example third-party plugin (examples/huike-creditcheck), installed through its entry
point: its route, veto, event handler, table and permission work for the tenant that
enabled it, and none of them affects another tenant."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from core.kernel.settings import Settings
from frontend_api.app import create_app
from frontend_api.services import build_services
from tests.app_helpers import bearer, install, register_app
from tests.frontend_api.test_customers import _raw
from tests.helpers import add_member, signup

PLUGINS = "/api/v1/tenant/plugins"
REQUESTS = "/api/v1/plugins/creditcheck/requests"
CONFIG = {"blocked_words": ["Shady"], "api_key": "bureau-key-9f8e7d"}


@pytest.fixture
def jobs_client(settings: Settings) -> Iterator[TestClient[Litestar]]:
    fast = dataclasses.replace(
        settings, background_jobs=True, job_max_retries=1, job_min_backoff_ms=1, job_max_backoff_ms=5
    )
    app = create_app(fast)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _drain(client: TestClient[Litestar]) -> None:
    client.blocking_portal.call(client.app.state.jobs.drain)


def _enable(client: TestClient[Any], headers: dict[str, str], config: dict[str, Any] = CONFIG) -> Any:
    return client.post(f"{PLUGINS}/creditcheck/enable", headers=headers, json={"config": config})


def _customer(client: TestClient[Any], headers: dict[str, str], name: str) -> Any:
    return client.post("/api/v1/customers", headers=headers, json={"kind": "company", "name": name})


def test_the_installed_plugin_is_listed_for_every_tenant_and_enabled_for_none(
    client: TestClient[Any],
) -> None:
    owner = signup(client)
    listed = client.get(PLUGINS, headers=owner["headers"])
    assert listed.status_code == 200, listed.text
    plugin = next(p for p in listed.json() if p["name"] == "creditcheck")
    assert (plugin["title"], plugin["title_zh"], plugin["enabled"]) == ("Credit check", "信用核查", False)
    assert plugin["config_schema"]["$ref"].endswith("CreditCheckConfig")
    assert "api_key" in plugin["config_schema"]["$defs"]["CreditCheckConfig"]["required"]


def test_a_config_that_does_not_match_the_schema_is_refused_naming_the_field(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    missing = _enable(client, owner["headers"], {"blocked_words": ["x"]})
    assert missing.status_code == 422, missing.text
    assert missing.json()["errors"][0]["field"] == "config.api_key"
    wrong = _enable(client, owner["headers"], {**CONFIG, "daily_limit": 0})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "config.daily_limit"
    unknown = _enable(client, owner["headers"], {**CONFIG, "colour": "red"})
    assert unknown.status_code == 422
    assert _raw(settings, "SELECT count(*) FROM tenant_plugins")[0][0] == 0


def test_the_secret_is_stored_encrypted_never_returned_and_kept_when_sent_back_masked(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    enabled = _enable(client, owner["headers"])
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["config"] == {"blocked_words": ["Shady"], "api_key": "********", "daily_limit": 100}
    stored = _raw(settings, "SELECT config, secrets FROM tenant_plugins")[0]
    assert "bureau-key" not in str(stored[0])
    assert b"bureau-key" not in bytes(stored[1])
    etag = client.get(f"{PLUGINS}/creditcheck", headers=owner["headers"]).headers["etag"]
    changed = client.patch(
        f"{PLUGINS}/creditcheck",
        headers={**owner["headers"], "If-Match": etag},
        json={"config": {"blocked_words": ["Bogus"], "api_key": "********"}},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["config"]["blocked_words"] == ["Bogus"]
    stale = client.patch(
        f"{PLUGINS}/creditcheck",
        headers={**owner["headers"], "If-Match": etag},
        json={"config": {"daily_limit": 5}},
    )
    assert stale.status_code == 412
    # The plugin still sees the secret it was given first.
    refused = _customer(client, owner["headers"], "Bogus Trading")
    assert refused.status_code == 422


def test_only_a_role_with_plugins_manage_sees_and_changes_plugins(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    assert client.get(PLUGINS, headers=rep["headers"]).status_code == 403
    assert _enable(client, rep["headers"]).status_code == 403
    assert client.get(f"{PLUGINS}/nosuchplugin", headers=owner["headers"]).status_code == 404


def test_the_veto_refuses_the_customer_with_the_plugins_name_and_writes_nothing(
    client: TestClient[Any], settings: Settings
) -> None:
    acme, other = signup(client, "Acme"), signup(client, "Other")
    assert _enable(client, acme["headers"]).status_code == 200
    refused = _customer(client, acme["headers"], "Shady Dealings Ltd")
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert (body["code"], body["plugin"]) == ("vetoed", "creditcheck")
    assert "credit blocklist" in body["detail"]
    assert "creditcheck" in body["detail"]
    assert _raw(settings, "SELECT count(*) FROM customers")[0][0] == 0
    assert _raw(settings, "SELECT count(*) FROM outbox_messages WHERE name = 'customers.created'")[0][0] == 0
    # Another tenant never enabled it: the same name goes through.
    assert _customer(client, other["headers"], "Shady Dealings Ltd").status_code == 201
    assert _customer(client, acme["headers"], "Honest Goods").status_code == 201


def test_the_plugin_route_answers_only_where_enabled(client: TestClient[Any], settings: Settings) -> None:
    acme, other = signup(client, "Acme"), signup(client, "Other")
    assert client.get(REQUESTS, headers=acme["headers"]).status_code == 404
    assert _enable(client, acme["headers"]).status_code == 200
    assert client.get(REQUESTS, headers=acme["headers"]).status_code == 200
    assert client.get(REQUESTS, headers=other["headers"]).status_code == 404
    rep = add_member(client, settings, acme["tenant_id"], "sales_rep")
    assert client.get(REQUESTS, headers=rep["headers"]).status_code == 403
    disabled = client.post(f"{PLUGINS}/creditcheck/disable", headers=acme["headers"])
    assert disabled.status_code == 200, disabled.text
    assert client.get(REQUESTS, headers=acme["headers"]).status_code == 404


def test_new_customers_get_a_credit_check_request_in_the_enabling_tenant_only(
    jobs_client: TestClient[Litestar], settings: Settings
) -> None:
    client = jobs_client
    acme, other = signup(client, "Acme"), signup(client, "Other")
    assert _enable(client, acme["headers"]).status_code == 200
    mine = _customer(client, acme["headers"], "Globex").json()
    _customer(client, other["headers"], "Initech")
    _drain(client)
    requests = client.get(REQUESTS, headers=acme["headers"]).json()
    assert [r["customer_id"] for r in requests] == [mine["id"]]
    assert _raw(settings, "SELECT count(*) FROM creditcheck_requests")[0][0] == 1
    # The relay sent the other tenant's event to no plugin handler.
    handled = _raw(settings, "SELECT handler FROM processed_messages WHERE handler LIKE 'handler:plugin.%'")
    assert {h for (h,) in handled} == {"handler:plugin.creditcheck.customers.created"}
    # After disabling, new customers get no request.
    client.post(f"{PLUGINS}/creditcheck/disable", headers=acme["headers"])
    _customer(client, acme["headers"], "Hooli")
    _drain(client)
    assert _raw(settings, "SELECT count(*) FROM creditcheck_requests")[0][0] == 1


def test_the_plugins_routes_are_in_the_openapi_schema(client: TestClient[Any]) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert "/api/v1/plugins/creditcheck/requests" in paths
    assert paths["/api/v1/plugins/creditcheck/requests"]["get"]["security"] == [{"BearerToken": []}]
    assert "/api/v1/tenant/plugins/{name}/enable" in paths


def test_a_plan_that_excludes_the_plugin_refuses_to_enable_it_and_names_the_plan(settings: Settings) -> None:
    class StarterPlan:
        async def refusal(self, session: Any, tenant_id: Any, plugin: str) -> str | None:
            return "The Pro plan lets you enable Credit check." if plugin == "creditcheck" else None

    services = build_services(settings)
    services.plugin_policy = StarterPlan()
    with TestClient(create_app(settings, services), raise_server_exceptions=False) as client:
        owner = signup(client)
        listed = client.get(f"{PLUGINS}/creditcheck", headers=owner["headers"]).json()
        assert listed["plan_refusal"] == "The Pro plan lets you enable Credit check."
        refused = _enable(client, owner["headers"])
        assert refused.status_code == 403, refused.text
        assert (refused.json()["code"], refused.json()["detail"]) == (
            "plan_required",
            "The Pro plan lets you enable Credit check.",
        )
    asyncio.run(services.db.dispose())


def test_an_app_granted_the_plugins_scope_reads_its_route_where_the_plugin_is_enabled(
    client: TestClient[Any],
) -> None:
    dev = signup(client, "Dev Co")
    scopes = client.get("/api/v1/apps/scopes", headers=dev["headers"]).json()
    assert {"name": "creditcheck:read", "permissions": ["creditcheck.read"]}.items() <= next(
        s for s in scopes if s["name"] == "creditcheck:read"
    ).items()
    reader = register_app(client, dev["headers"], scopes=["creditcheck:read", "customers:read"])
    blind = register_app(client, dev["headers"], name="Blind", scopes=["customers:read"])
    a, b = signup(client, "Tenant A"), signup(client, "Tenant B")
    assert _enable(client, a["headers"]).status_code == 200
    in_a, in_b = install(client, a["headers"], reader), install(client, b["headers"], reader)
    blind_in_a = install(client, a["headers"], blind)

    assert client.get(REQUESTS, headers=bearer(in_a["access_token"])).status_code == 200
    refused = client.get(REQUESTS, headers=bearer(blind_in_a["access_token"]))
    assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_scope")
    # B never enabled the plugin: the route is not there for it, whatever the token holds.
    assert client.get(REQUESTS, headers=bearer(in_b["access_token"])).status_code == 404


def test_a_plugin_scope_over_another_plugins_permission_stops_the_start() -> None:
    from core.apps.scopes import AppScope, scope_catalogue
    from frontend_api.services import permission_registry

    registry = permission_registry()
    thief = AppScope("thief:read", "Read", "读", frozenset({"customers.read"}))
    with pytest.raises(ValueError, match="others' permissions"):
        scope_catalogue(registry, {"thief": [thief]})
    with pytest.raises(ValueError, match="must start with thief:"):
        scope_catalogue(
            registry, {"thief": [AppScope("customers:all", "All", "全部", frozenset({"thief.x"}))]}
        )
