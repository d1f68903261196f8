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


def _all_pages(client: TestClient[Any], url: str, headers: dict[str, str], **params: Any) -> list[str]:
    names: list[str] = []
    cursor = None
    while True:
        response = client.get(url, headers=headers, params={**params, "limit": 2, "cursor": cursor or ""})
        assert response.status_code == 200, response.text
        names += [item["name"] for item in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return names


def test_the_list_sorts_on_a_custom_field_across_pages_with_empty_values_last(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    budgets = {"Alpha": 30, "Beta": 5.5, "Gamma": None, "Delta": 120, "Epsilon": 30, "Zeta": None}
    for name, budget in budgets.items():
        custom = {"region": "north"} if budget is None else {"region": "north", "budget": budget}
        assert _create(client, owner, name, custom).status_code == 201
    h = owner["headers"]
    # Ties (two budgets of 30) keep creation order; customers without a budget come last.
    assert _all_pages(client, API, h, sort="cf.budget") == [
        "Beta",
        "Alpha",
        "Epsilon",
        "Delta",
        "Gamma",
        "Zeta",
    ]
    assert _all_pages(client, API, h, sort="-cf.budget") == [
        "Delta",
        "Epsilon",
        "Alpha",
        "Beta",
        "Zeta",
        "Gamma",
    ]
    # Text values sort too; a multi-select or an unknown field is a problem naming `sort`.
    assert _all_pages(client, API, h, sort="cf.region")[0] == "Alpha"
    unknown = client.get(API, headers=h, params={"sort": "cf.nothing"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "sort"


def test_activities_sorted_by_due_date_page_through_every_one(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    """A nullable column (a note has no due date) sorts with its empty values last instead of
    losing them between pages."""
    h = owner["headers"]
    customer = _create(client, owner, "Globex", {"region": "north"}).json()
    subjects = []
    for n, due in enumerate(
        ("2031-01-03T09:00:00Z", None, "2031-01-01T09:00:00Z", None, "2031-01-02T09:00:00Z")
    ):
        body: dict[str, Any] = {"subject_type": "customer", "subject_id": customer["id"], "subject": f"s{n}"}
        body |= {"kind": "task", "due_at": due} if due else {"kind": "note"}
        response = client.post("/api/v1/activities", headers=h, json=body)
        assert response.status_code == 201, response.text
        subjects.append(f"s{n}")
    seen: list[str] = []
    cursor = None
    while True:
        page = client.get(
            "/api/v1/activities", headers=h, params={"sort": "due_at", "limit": 2, "cursor": cursor or ""}
        ).json()
        seen += [item["subject"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["s2", "s4", "s0", "s1", "s3"]
