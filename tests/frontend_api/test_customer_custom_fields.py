"""Custom fields on customers and contacts: validated on write, filterable in the list, and
their type frozen once values exist."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.helpers import signup

API = "/api/v1/customers"


@pytest.fixture
def owner(client: TestClient[Any]) -> dict[str, Any]:
    owner = signup(client, "Acme")
    headers = owner["headers"]
    fields = [
        {"key": "budget", "label": {"en": "Budget"}, "type": "number"},
        {
            "key": "region",
            "label": {"en": "Region"},
            "type": "single_select",
            "required": True,
            "options": [
                {"key": "north", "label": {"en": "North"}},
                {"key": "south", "label": {"en": "South"}},
            ],
        },
    ]
    for field in fields:
        response = client.post("/api/v1/custom-fields/customer", headers=headers, json=field)
        assert response.status_code == 201, response.text
    response = client.post(
        "/api/v1/custom-fields/contact",
        headers=headers,
        json={"key": "birthday", "label": {"en": "Birthday"}, "type": "date"},
    )
    assert response.status_code == 201, response.text
    return owner


def _create(client: TestClient[Any], owner: dict[str, Any], name: str, custom: dict[str, Any]) -> Any:
    return client.post(
        API, headers=owner["headers"], json={"kind": "company", "name": name, "custom_fields": custom}
    )


def test_custom_values_are_validated_on_create_and_update(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    missing = _create(client, owner, "Globex", {"budget": 10})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "custom_fields.region"
    wrong = _create(client, owner, "Globex", {"region": "east", "budget": "lots"})
    assert wrong.status_code == 422
    assert {e["field"] for e in wrong.json()["errors"]} == {"custom_fields.region", "custom_fields.budget"}
    assert client.get(API, headers=owner["headers"]).json()["items"] == []

    created = _create(client, owner, "Globex", {"region": "north", "budget": 1500})
    assert created.status_code == 201, created.text
    customer = created.json()
    assert customer["custom_fields"] == {"region": "north", "budget": 1500}

    url = f"{API}/{customer['id']}"
    changed = client.patch(url, headers=owner["headers"], json={"custom_fields": {"budget": None}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["custom_fields"] == {"region": "north"}
    refused = client.patch(url, headers=owner["headers"], json={"custom_fields": {"colour": "red"}})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "custom_fields.colour"


def test_contacts_validate_their_own_fields(client: TestClient[Any], owner: dict[str, Any]) -> None:
    customer = _create(client, owner, "Globex", {"region": "south"}).json()
    contacts = f"{API}/{customer['id']}/contacts"
    bad = client.post(
        contacts, headers=owner["headers"], json={"name": "Li", "custom_fields": {"birthday": "May"}}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "custom_fields.birthday"
    good = client.post(
        contacts, headers=owner["headers"], json={"name": "Li", "custom_fields": {"birthday": "1990-05-01"}}
    )
    assert good.status_code == 201, good.text
    assert good.json()["custom_fields"] == {"birthday": "1990-05-01"}


def test_the_list_filters_on_custom_fields(client: TestClient[Any], owner: dict[str, Any]) -> None:
    for name, region, budget in (("Small", "north", 100), ("Big", "north", 9000), ("Far", "south", 9000)):
        assert _create(client, owner, name, {"region": region, "budget": budget}).status_code == 201
    listed = client.get(f"{API}?cf.region=north&cf.budget__gte=1000", headers=owner["headers"])
    assert listed.status_code == 200, listed.text
    assert [c["name"] for c in listed.json()["items"]] == ["Big"]
    bad = client.get(f"{API}?cf.nothing=1", headers=owner["headers"])
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "cf.nothing"


def test_a_fields_type_is_frozen_once_a_customer_holds_a_value(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    fields = client.get("/api/v1/custom-fields/customer", headers=owner["headers"]).json()
    budget = next(
        f for f in (fields["items"] if isinstance(fields, dict) else fields) if f["key"] == "budget"
    )
    url = f"/api/v1/custom-fields/customer/{budget['id']}"
    assert _create(client, owner, "Globex", {"region": "north", "budget": 5}).status_code == 201
    refused = client.patch(url, headers=owner["headers"], json={"type": "text"})
    assert refused.status_code == 409
    assert refused.json()["code"] == "type_change_refused"
