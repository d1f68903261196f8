"""The admin API of custom fields: tenant admins define them, everyone who works with the
entities reads them, and another tenant's field is a 404."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from core.kernel.settings import Settings
from tests.helpers import add_member, signup

BASE = "/api/v1/custom-fields"
TIER = {
    "key": "tier",
    "label": {"zh-CN": "客户等级", "en": "Tier"},
    "type": "single_select",
    "options": [
        {"key": "gold", "label": {"zh-CN": "金牌", "en": "Gold"}},
        {"key": "silver", "label": {"zh-CN": "银牌"}},
    ],
}


def _create(client: TestClient[Any], headers: dict[str, str], body: dict[str, Any] = TIER) -> dict[str, Any]:
    response = client.post(f"{BASE}/customer", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_an_admin_defines_a_field_and_everyone_sees_it_in_form_order(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    tier = _create(client, owner["headers"])
    vip = _create(client, owner["headers"], {"key": "vip", "label": {"en": "VIP"}, "type": "boolean"})
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")

    listed = client.get(f"{BASE}/customer", headers=rep["headers"])

    assert listed.status_code == 200
    assert [(f["key"], f["position"]) for f in listed.json()["items"]] == [("tier", 0), ("vip", 1)]
    assert tier["label"] == {"zh-CN": "客户等级", "en": "Tier"}
    assert tier["options"][1]["label"] == {"zh-CN": "银牌", "en": "银牌"}
    assert vip["label"] == {"zh-CN": "VIP", "en": "VIP"}
    assert client.get(f"{BASE}/contact", headers=rep["headers"]).json()["items"] == []


def test_the_entity_types_are_listed(client: TestClient[Any]) -> None:
    owner = signup(client)

    entities = client.get(BASE, headers=owner["headers"]).json()["items"]

    assert [e["name"] for e in entities] == ["customer", "contact", "lead", "opportunity"]
    assert entities[0]["label"] == {"zh-CN": "客户", "en": "Customer"}


def test_a_sales_rep_reads_but_cannot_change_fields(client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client)
    field = _create(client, owner["headers"])
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")

    created = client.post(f"{BASE}/customer", json={**TIER, "key": "other"}, headers=rep["headers"])
    changed = client.patch(f"{BASE}/customer/{field['id']}", json={"required": True}, headers=rep["headers"])
    archived = client.delete(f"{BASE}/customer/{field['id']}", headers=rep["headers"])

    assert [created.status_code, changed.status_code, archived.status_code] == [403, 403, 403]
    assert created.json()["code"] == "permission_denied"
    assert client.get(f"{BASE}/customer/{field['id']}", headers=rep["headers"]).json()["required"] is False


def test_an_admin_manages_fields(client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client)
    admin = add_member(client, settings, owner["tenant_id"], "admin")

    response = client.post(f"{BASE}/lead", json=TIER, headers=admin["headers"])

    assert response.status_code == 201


def test_another_tenants_field_is_not_found(client: TestClient[Any]) -> None:
    a = signup(client, "Tenant A")
    field = _create(client, a["headers"])
    b = signup(client, "Tenant B")
    url = f"{BASE}/customer/{field['id']}"

    answers = [
        client.get(url, headers=b["headers"]),
        client.patch(url, json={"required": True}, headers=b["headers"]),
        client.delete(url, headers=b["headers"]),
    ]

    assert [r.status_code for r in answers] == [404, 404, 404]
    assert client.get(f"{BASE}/customer", headers=b["headers"]).json()["items"] == []
    assert client.get(url, headers=a["headers"]).json()["archived"] is False


def test_a_field_is_found_under_its_own_entity_only(client: TestClient[Any]) -> None:
    owner = signup(client)
    field = _create(client, owner["headers"])

    assert client.get(f"{BASE}/contact/{field['id']}", headers=owner["headers"]).status_code == 404
    assert client.get(f"{BASE}/invoice", headers=owner["headers"]).status_code == 404


def test_a_key_is_unique_per_entity_and_may_repeat_on_another(client: TestClient[Any]) -> None:
    owner = signup(client)
    _create(client, owner["headers"])

    again = client.post(f"{BASE}/customer", json=TIER, headers=owner["headers"])
    on_leads = client.post(f"{BASE}/lead", json=TIER, headers=owner["headers"])

    assert again.status_code == 409
    assert again.json()["code"] == "key_taken"
    assert again.json()["errors"][0]["field"] == "key"
    assert on_leads.status_code == 201


def test_a_bad_definition_is_refused_naming_the_field(client: TestClient[Any]) -> None:
    owner = signup(client)
    cases = [
        ({**TIER, "key": "Bad Key"}, "key"),
        ({**TIER, "type": "colour"}, "type"),
        ({**TIER, "label": {}}, "label"),
        ({**TIER, "options": []}, "options"),
        ({**TIER, "position": 2**40}, "position"),
        ({**TIER, "options": [TIER["options"][0], TIER["options"][0]]}, "options.1.key"),
        ({"key": "size", "label": {"en": "Size"}, "type": "number", "options": TIER["options"]}, "options"),
    ]

    for body, field in cases:
        response = client.post(f"{BASE}/customer", json=body, headers=owner["headers"])
        assert response.status_code in (400, 422), (body, response.text)
        assert response.json()["errors"][0]["field"] == field, (body, response.text)
    assert client.get(f"{BASE}/customer", headers=owner["headers"]).json()["items"] == []


def test_options_are_added_and_archived_but_never_removed(client: TestClient[Any]) -> None:
    owner = signup(client)
    field = _create(client, owner["headers"])
    url = f"{BASE}/customer/{field['id']}"
    bronze = {"key": "bronze", "label": {"en": "Bronze"}}
    archived_silver = {**TIER["options"][1], "archived": True}

    added = client.patch(
        url, json={"options": [TIER["options"][0], archived_silver, bronze]}, headers=owner["headers"]
    )
    removed = client.patch(url, json={"options": [TIER["options"][0]]}, headers=owner["headers"])

    assert added.status_code == 200, added.text
    assert [(o["key"], o["archived"]) for o in added.json()["options"]] == [
        ("gold", False),
        ("silver", True),
        ("bronze", False),
    ]
    assert removed.status_code == 422
    assert removed.json()["code"] == "option_removed"
    assert len(client.get(url, headers=owner["headers"]).json()["options"]) == 3


def test_changes_follow_the_etag(client: TestClient[Any]) -> None:
    owner = signup(client)
    field = _create(client, owner["headers"])
    url = f"{BASE}/customer/{field['id']}"
    etag = client.get(url, headers=owner["headers"]).headers["etag"]

    first = client.patch(url, json={"required": True}, headers={**owner["headers"], "If-Match": etag})
    stale = client.patch(url, json={"position": 9}, headers={**owner["headers"], "If-Match": etag})

    assert first.status_code == 200
    assert first.headers["etag"] == '"2"'
    assert stale.status_code == 412
    assert client.get(url, headers=owner["headers"]).json()["position"] == 0


def test_the_type_changes_while_no_record_can_hold_values(client: TestClient[Any]) -> None:
    owner = signup(client)
    field = _create(client, owner["headers"], {"key": "size", "label": {"en": "Size"}, "type": "number"})

    to_select = client.patch(
        f"{BASE}/customer/{field['id']}", json={"type": "single_select"}, headers=owner["headers"]
    )
    changed = client.patch(
        f"{BASE}/customer/{field['id']}",
        json={"type": "single_select", "options": TIER["options"]},
        headers=owner["headers"],
    )

    assert to_select.status_code == 422
    assert to_select.json()["errors"][0]["field"] == "options"
    assert changed.status_code == 200
    assert changed.json()["type"] == "single_select"


def test_deleting_a_field_archives_it_and_it_can_come_back(client: TestClient[Any]) -> None:
    owner = signup(client)
    field = _create(client, owner["headers"])
    url = f"{BASE}/customer/{field['id']}"

    deleted = client.delete(url, headers=owner["headers"])
    active = client.get(f"{BASE}/customer", headers=owner["headers"]).json()["items"]
    everything = client.get(f"{BASE}/customer?include_archived=true", headers=owner["headers"]).json()[
        "items"
    ]
    retaken = client.post(f"{BASE}/customer", json=TIER, headers=owner["headers"])
    restored = client.patch(url, json={"archived": False}, headers=owner["headers"])

    assert deleted.status_code == 204
    assert active == []
    assert [(f["key"], f["archived"]) for f in everything] == [("tier", True)]
    assert retaken.status_code == 409
    assert restored.json()["archived"] is False
