"""The tenant's own settings: read by every member, changed by admins, one row per credential."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from core.kernel.settings import Settings
from tests.helpers import add_member, signup, turn_on_two_factor

SETTINGS = "/api/v1/tenant"


def test_a_member_reads_the_tenant_settings(client: TestClient[Any]) -> None:
    owner = signup(client, company="Acme Trading")
    response = client.get(SETTINGS, headers=owner["headers"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == owner["tenant_id"]
    assert body["name"] == "Acme Trading"
    assert body["slug"].startswith("acme-trading")
    assert body["status"] == "active"
    assert body["status_reason"] is None
    assert body["plan"] == "free"
    assert body["require_two_factor"] is False
    assert body["created_at"]


def test_a_viewer_can_read_the_settings_but_not_change_them(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    viewer = add_member(client, settings, owner["tenant_id"], "viewer")["headers"]
    assert client.get(SETTINGS, headers=viewer).status_code == 200
    response = client.patch(SETTINGS, json={"name": "Taken over"}, headers=viewer)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert client.get(SETTINGS, headers=owner["headers"]).json()["name"] == "Acme"


def test_an_admin_renames_the_business(client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client, company="Acme")
    admin = add_member(client, settings, owner["tenant_id"], "admin")["headers"]
    before = client.get(SETTINGS, headers=owner["headers"]).json()
    response = client.patch(SETTINGS, json={"name": "  Acme Holdings  "}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Acme Holdings"
    assert response.json()["slug"] == before["slug"]
    assert response.json()["require_two_factor"] is False
    assert client.get(SETTINGS, headers=owner["headers"]).json()["name"] == "Acme Holdings"


def test_a_patch_changes_only_the_fields_it_names(client: TestClient[Any]) -> None:
    owner = signup(client, company="Acme")
    unchanged = client.patch(SETTINGS, json={}, headers=owner["headers"])
    assert unchanged.status_code == 200, unchanged.text
    assert unchanged.json()["name"] == "Acme"
    renamed = client.patch(SETTINGS, json={"name": "Acme Two"}, headers=owner["headers"])
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["require_two_factor"] is False
    turn_on_two_factor(client, owner["headers"])
    response = client.patch(SETTINGS, json={"require_two_factor": True}, headers=owner["headers"])
    assert response.status_code == 200, response.text
    assert response.json()["require_two_factor"] is True
    assert response.json()["name"] == "Acme Two"


def test_an_empty_name_is_refused_naming_the_field(client: TestClient[Any]) -> None:
    owner = signup(client)
    response = client.patch(SETTINGS, json={"name": "   "}, headers=owner["headers"])
    assert response.status_code == 422
    assert response.json()["code"] == "required"
    assert response.json()["errors"][0]["field"] == "name"


def test_a_too_long_name_is_refused_naming_the_field(client: TestClient[Any]) -> None:
    owner = signup(client)
    response = client.patch(SETTINGS, json={"name": "x" * 201}, headers=owner["headers"])
    assert response.status_code == 422
    assert response.json()["code"] == "too_long"
    assert response.json()["errors"][0]["field"] == "name"
    assert client.patch(SETTINGS, json={"name": "x" * 200}, headers=owner["headers"]).status_code == 200


def test_a_null_name_or_an_unknown_field_is_refused_by_name(client: TestClient[Any]) -> None:
    owner = signup(client)
    response = client.patch(SETTINGS, json={"name": None}, headers=owner["headers"])
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"
    response = client.patch(SETTINGS, json={"plan": "enterprise"}, headers=owner["headers"])
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "plan"
    response = client.patch(SETTINGS, json={"require_two_factor": "yes"}, headers=owner["headers"])
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "require_two_factor"
    assert client.get(SETTINGS, headers=owner["headers"]).json()["plan"] == "free"


def test_each_tenant_sees_and_changes_only_its_own_settings(client: TestClient[Any]) -> None:
    a = signup(client, company="Alpha")
    b = signup(client, company="Beta")
    turn_on_two_factor(client, a["headers"])
    response = client.patch(
        SETTINGS, json={"name": "Alpha Renamed", "require_two_factor": True}, headers=a["headers"]
    )
    assert response.status_code == 200, response.text
    seen_by_b = client.get(SETTINGS, headers=b["headers"]).json()
    assert seen_by_b["id"] == b["tenant_id"]
    assert seen_by_b["name"] == "Beta"
    assert seen_by_b["require_two_factor"] is False


def test_requiring_two_factor_confines_members_without_it_at_once(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    admin = add_member(client, settings, owner["tenant_id"], "admin")
    assert client.get("/api/v1/roles", headers=admin["headers"]).status_code == 200
    turn_on_two_factor(client, owner["headers"])
    response = client.patch(SETTINGS, json={"require_two_factor": True}, headers=owner["headers"])
    assert response.status_code == 200, response.text
    refused = client.get("/api/v1/roles", headers=admin["headers"])
    assert refused.status_code == 403
    assert refused.json()["code"] == "two_factor_setup_required"
    assert client.get("/api/v1/me", headers=admin["headers"]).status_code == 200
    assert client.get("/api/v1/roles", headers=owner["headers"]).status_code == 200


def test_requiring_two_factor_needs_it_on_for_yourself_first(client: TestClient[Any]) -> None:
    owner = signup(client)
    refused = client.patch(SETTINGS, json={"require_two_factor": True}, headers=owner["headers"])
    assert refused.status_code == 409
    assert refused.json()["code"] == "two_factor_setup_first"
    assert refused.json()["errors"][0]["field"] == "require_two_factor"
    assert client.get(SETTINGS, headers=owner["headers"]).json()["require_two_factor"] is False


def test_the_business_starts_in_china_time_and_an_admin_changes_its_time_zone(
    client: TestClient[Any],
) -> None:
    owner = signup(client, "Acme")
    assert client.get(SETTINGS, headers=owner["headers"]).json()["timezone"] == "Asia/Shanghai"
    moved = client.patch(SETTINGS, json={"timezone": " Europe/Berlin "}, headers=owner["headers"])
    assert moved.status_code == 200, moved.text
    assert moved.json()["timezone"] == "Europe/Berlin"
    assert client.get(SETTINGS, headers=owner["headers"]).json()["timezone"] == "Europe/Berlin"


def test_a_time_zone_that_does_not_exist_is_refused_naming_the_field(client: TestClient[Any]) -> None:
    owner = signup(client, "Acme")
    for bad in ("Mars/Olympus", "", "../../etc/passwd"):
        response = client.patch(SETTINGS, json={"timezone": bad}, headers=owner["headers"])
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["code"] == "invalid_timezone"
        assert response.json()["errors"][0]["field"] == "timezone"
    assert client.get(SETTINGS, headers=owner["headers"]).json()["timezone"] == "Asia/Shanghai"
