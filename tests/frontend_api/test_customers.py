"""Customers and contacts through the API: CRUD, encryption at rest, blind-index search,
masking, duplicates and merge, transfer, scope, ETags, events and validation problems."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from core.customers.permissions import PERMISSIONS
from core.kernel.settings import Settings
from tests.helpers import add_member, signup

API = "/api/v1/customers"
_CUSTOMER_PERMISSIONS = [p.name for p in PERMISSIONS]


def _raw(settings: Settings, sql: str) -> list[Any]:
    """Rows read around the ORM and RLS (the migration owner), as a database dump would."""

    async def run() -> list[Any]:
        engine = create_async_engine(settings.owner_database_url)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(text(sql))).all())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _events(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    rows = _raw(settings, "SELECT name, payload FROM outbox_messages ORDER BY created_at, id")
    return [
        (r.name, r.payload if isinstance(r.payload, dict) else __import__("json").loads(r.payload))
        for r in rows
    ]


def _user_id(client: TestClient[Any], headers: dict[str, str]) -> str:
    user_id: str = client.get("/api/v1/me", headers=headers).json()["user_id"]
    return user_id


def _create(client: TestClient[Any], headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"kind": "company", "name": "Globex", **fields}
    response = client.post(API, headers=headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
def owner(client: TestClient[Any]) -> dict[str, Any]:
    return signup(client, "Acme")


# --- CRUD, encryption, search --------------------------------------------------------------


def test_a_customer_is_created_read_updated_and_deleted(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    headers = owner["headers"]
    created = _create(
        client,
        headers,
        level="A",
        source="web",
        industry="Retail",
        stage="prospect",
        tags=["vip", "north", "vip"],
        phone="138 0013 8000",
        email="Buyer@Globex.com",
        address="1 Main Street, Springfield",
        contacts=[{"name": "Li Lei", "phone": "13900139000", "is_primary": True}],
    )
    assert created["phone"] == "+8613800138000"  # normalized to E.164
    assert created["tags"] == ["vip", "north"]
    assert created["owner_id"] == _user_id(client, headers)
    assert created["contacts"][0]["is_primary"] is True
    assert created["custom_fields"] == {}

    shown = client.get(f"{API}/{created['id']}", headers=headers)
    assert shown.status_code == 200
    assert shown.headers["etag"] == '"1"'
    assert shown.json()["email"] == "Buyer@Globex.com"

    changed = client.patch(
        f"{API}/{created['id']}", headers=headers, json={"stage": "customer", "level": "B"}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["stage"], changed.json()["level"], changed.headers["etag"]) == (
        "customer",
        "B",
        '"2"',
    )

    assert client.delete(f"{API}/{created['id']}", headers=headers).status_code == 204
    assert client.get(f"{API}/{created['id']}", headers=headers).status_code == 404
    assert _raw(client.app.state.services.settings, "SELECT id FROM contacts") == []  # type: ignore[attr-defined]


def test_personal_data_is_encrypted_at_rest(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    _create(
        client,
        owner["headers"],
        kind="individual",
        name="Han Meimei",
        phone="13800138000",
        email="meimei@example.com",
        address="Chaoyang Road 88",
        id_number="110101199003071234",
        contacts=[{"name": "Assistant", "phone": "13900139000", "email": "assist@example.com"}],
    )
    dump = repr(_raw(settings, "SELECT * FROM customers")) + repr(_raw(settings, "SELECT * FROM contacts"))
    for plain in (
        "13800138000",
        "meimei@example.com",
        "Chaoyang",
        "110101199003071234",
        "13900139000",
        "assist@",
    ):
        assert plain not in dump
    assert "Han Meimei" in dump  # names are not encrypted: they are searched by prefix


def test_exact_search_by_phone_or_email_goes_through_the_blind_index(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    headers = owner["headers"]
    globex = _create(client, headers, phone="+86 138-0013-8000")
    initech = _create(
        client, headers, name="Initech", contacts=[{"name": "Bill", "email": "bill@initech.com"}]
    )
    _create(client, headers, name="Umbrella", email="info@umbrella.com")

    def found(**params: str) -> list[str]:
        response = client.get(API, headers=headers, params=params)
        assert response.status_code == 200, response.text
        return [c["name"] for c in response.json()["items"]]

    assert found(phone="13800138000") == ["Globex"]  # any spelling of the same number
    assert found(email="BILL@initech.com") == ["Initech"]  # a contact's email finds its customer
    assert found(email="nobody@example.com") == []
    assert globex["id"] != initech["id"]
    bad = client.get(API, headers=headers, params={"phone": "12"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "phone"


def test_lists_filter_by_name_tag_level_stage_owner_and_last_contact(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    headers = owner["headers"]
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    rep_id = _user_id(client, rep["headers"])
    _create(
        client,
        headers,
        name="Alpha Trading",
        level="A",
        tags=["vip"],
        last_contacted_at="2026-01-10T00:00:00Z",
    )
    _create(client, headers, name="Beta Alpha", level="B", stage="customer", owner_id=rep_id)
    _create(
        client, headers, name="Gamma 100%", tags=["vip", "export"], last_contacted_at="2026-03-01T00:00:00Z"
    )

    def names(**params: str) -> list[str]:
        response = client.get(API, headers=headers, params={"sort": "name", **params})
        assert response.status_code == 200, response.text
        return [c["name"] for c in response.json()["items"]]

    assert names(name_prefix="alpha") == ["Alpha Trading"]
    assert names(q="alpha") == ["Alpha Trading", "Beta Alpha"]
    assert names(q="100%") == ["Gamma 100%"]
    assert names(tag="vip") == ["Alpha Trading", "Gamma 100%"]
    assert names(tag="export") == ["Gamma 100%"]
    assert names(level="B") == ["Beta Alpha"]
    assert names(stage="customer") == ["Beta Alpha"]
    assert names(owner_id=rep_id) == ["Beta Alpha"]
    assert names(last_contacted_from="2026-02-01T00:00:00Z") == ["Gamma 100%"]
    assert names(last_contacted_to="2026-02-01T00:00:00Z") == ["Alpha Trading"]
    assert names(sort="-name") == ["Gamma 100%", "Beta Alpha", "Alpha Trading"]

    first = client.get(API, headers=headers, params={"limit": "2", "sort": "name"}).json()
    second = client.get(
        API, headers=headers, params={"limit": "2", "sort": "name", "cursor": first["next_cursor"]}
    )
    assert [c["name"] for c in first["items"] + second.json()["items"]] == [
        "Alpha Trading",
        "Beta Alpha",
        "Gamma 100%",
    ]
    assert second.json()["next_cursor"] is None


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "robot", "name": "X"}, "kind"),
        ({"kind": "company", "name": "X", "stage": "married"}, "stage"),
        ({"kind": "company", "name": "X", "phone": "not a phone"}, "phone"),
        ({"kind": "company", "name": "X", "email": "nobody"}, "email"),
        ({"kind": "company", "name": "X", "id_number": "110101199003071234"}, "id_number"),
        ({"kind": "company", "name": "   "}, "name"),
        ({"kind": "company", "name": "X", "contacts": [{"name": "Y", "phone": "abc"}]}, "contacts[0].phone"),
        ({"kind": "company", "name": "X", "last_contacted_at": "2026-01-01T00:00:00"}, "last_contacted_at"),
        ({"kind": "company", "name": "X", "owner_id": "01234567-89ab-7def-8123-456789abcdef"}, "owner_id"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings, body: dict[str, Any], field: str
) -> None:
    response = client.post(API, headers=owner["headers"], json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert _raw(settings, "SELECT id FROM customers") == []


def test_an_invalid_phone_on_update_names_the_field(client: TestClient[Any], owner: dict[str, Any]) -> None:
    created = _create(client, owner["headers"])
    response = client.patch(f"{API}/{created['id']}", headers=owner["headers"], json={"phone": "12ab"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_phone"
    assert response.json()["errors"][0]["field"] == "phone"


# --- masking -------------------------------------------------------------------------------


def test_without_read_sensitive_personal_fields_come_back_masked_everywhere(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    created = _create(
        client,
        owner["headers"],
        kind="individual",
        name="Han Meimei",
        phone="13812345678",
        email="alice@example.com",
        address="Chaoyang Road 88",
        id_number="110101199003071234",
        contacts=[{"name": "Assistant", "phone": "13900001111", "email": "bob@example.com"}],
    )
    viewer = add_member(client, settings, owner["tenant_id"], "viewer")
    shown = client.get(f"{API}/{created['id']}", headers=viewer["headers"]).json()
    listed = client.get(API, headers=viewer["headers"]).json()["items"][0]
    contact = client.get(f"{API}/{created['id']}/contacts", headers=viewer["headers"]).json()[0]
    for view in (shown, listed):
        assert view["phone"] == "+86 138****5678"
        assert view["email"] == "a***@example.com"
        assert view["id_number"] == "110***********1234"
        assert "88" not in view["address"]
        assert view["masked"] is True
    assert (contact["phone"], contact["email"]) == ("+86 139****1111", "b***@example.com")
    assert client.get(f"{API}/{created['id']}", headers=owner["headers"]).json()["phone"] == "+8613812345678"


# --- duplicates and merge -------------------------------------------------------------------


def test_a_duplicate_phone_email_or_company_name_is_refused_with_the_existing_id(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    headers = owner["headers"]
    globex = _create(
        client, headers, phone="13800138000", contacts=[{"name": "Ann", "email": "ann@globex.com"}]
    )
    for body, field in (
        ({"kind": "individual", "name": "Someone", "phone": "+86 138 0013 8000"}, "phone"),
        ({"kind": "individual", "name": "Someone", "email": "ANN@globex.com"}, "email"),
        ({"kind": "company", "name": "GLOBEX"}, "name"),
        (
            {"kind": "company", "name": "Other", "contacts": [{"name": "Z", "email": "ann@globex.com"}]},
            "contacts[0].email",
        ),
    ):
        response = client.post(API, headers=headers, json=body)
        assert response.status_code == 409, response.text
        problem = response.json()
        assert (problem["code"], problem["existing_id"]) == ("duplicate_customer", globex["id"])
        assert problem["errors"][0]["field"] == field
    assert len(_raw(settings, "SELECT id FROM customers")) == 1

    other = _create(client, headers, name="Initech")
    clash = client.patch(f"{API}/{other['id']}", headers=headers, json={"phone": "13800138000"})
    assert clash.status_code == 409
    assert clash.json()["existing_id"] == globex["id"]
    contact_clash = client.post(
        f"{API}/{other['id']}/contacts", headers=headers, json={"name": "Q", "email": "ann@globex.com"}
    )
    assert contact_clash.status_code == 409

    kept = client.post(
        f"{API}?allow_duplicate=true", headers=headers, json={"kind": "company", "name": "Globex"}
    )
    assert kept.status_code == 201, kept.text
    # A customer's own values are not duplicates of themselves.
    assert (
        client.patch(
            f"{API}/{globex['id']}", headers=headers, json={"phone": "138 0013 8000", "level": "A"}
        ).status_code
        == 200
    )


def test_merge_moves_contacts_fills_empty_fields_and_deletes_the_other(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    headers = owner["headers"]
    field = {"key": "erp_code", "label": {"en": "ERP code"}, "type": "text"}
    assert client.post("/api/v1/custom-fields/customer", headers=headers, json=field).status_code == 201
    survivor = _create(client, headers, tags=["vip"], contacts=[{"name": "Ann", "is_primary": True}])
    other = _create(
        client,
        headers,
        name="Globex Ltd",
        level="A",
        phone="13800138000",
        tags=["export"],
        custom_fields={"erp_code": "G-1"},
        contacts=[{"name": "Bob", "is_primary": True}],
    )
    merged = client.post(f"{API}/{survivor['id']}/merge", headers=headers, json={"other_id": other["id"]})
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert (body["name"], body["level"], body["phone"]) == ("Globex", "A", "+8613800138000")
    assert body["tags"] == ["vip", "export"]
    assert body["custom_fields"] == {"erp_code": "G-1"}
    contacts = client.get(f"{API}/{survivor['id']}/contacts", headers=headers).json()
    assert [(c["name"], c["is_primary"]) for c in contacts] == [("Ann", True), ("Bob", False)]
    assert client.get(f"{API}/{other['id']}", headers=headers).status_code == 404
    assert (
        client.get(API, headers=headers, params={"phone": "13800138000"}).json()["items"][0]["id"]
        == survivor["id"]
    )
    merged_events = [p for n, p in _events(settings) if n == "customers.merged"]
    assert merged_events == [
        {
            "survivor_id": survivor["id"],
            "merged_id": other["id"],
            "moved_contact_ids": [other_contact_id(client, headers, survivor["id"])],
        }
    ]
    itself = client.post(f"{API}/{survivor['id']}/merge", headers=headers, json={"other_id": survivor["id"]})
    assert itself.status_code == 422
    assert itself.json()["errors"][0]["field"] == "other_id"


def other_contact_id(client: TestClient[Any], headers: dict[str, str], customer_id: str) -> str:
    contacts = client.get(f"{API}/{customer_id}/contacts", headers=headers).json()
    contact_id: str = next(c["id"] for c in contacts if c["name"] == "Bob")
    return contact_id


# --- contacts ------------------------------------------------------------------------------


def test_contacts_are_added_changed_and_one_at_most_is_primary(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    headers = owner["headers"]
    customer = _create(client, headers)
    base = f"{API}/{customer['id']}/contacts"
    ann = client.post(base, headers=headers, json={"name": "Ann", "is_primary": True}).json()
    bob = client.post(base, headers=headers, json={"name": "Bob", "phone": "13900139000"})
    assert bob.status_code == 201, bob.text
    assert bob.headers["etag"] == '"1"'
    stale = client.patch(
        f"{base}/{bob.json()['id']}", headers={**headers, "If-Match": '"9"'}, json={"is_primary": True}
    )
    assert stale.status_code == 412
    promoted = client.patch(
        f"{base}/{bob.json()['id']}", headers={**headers, "If-Match": '"1"'}, json={"is_primary": True}
    )
    assert promoted.status_code == 200, promoted.text
    assert client.get(f"{base}/{ann['id']}", headers=headers).json()["is_primary"] is False
    assert [c["name"] for c in client.get(base, headers=headers).json()] == ["Bob", "Ann"]
    assert client.delete(f"{base}/{ann['id']}", headers=headers).status_code == 204
    assert [c["name"] for c in client.get(base, headers=headers).json()] == ["Bob"]
    names = [n for n, _ in _events(settings)]
    assert names.count("customers.contact_created") == 2
    assert "customers.contact_updated" in names


# --- ETags ---------------------------------------------------------------------------------


def test_a_stale_if_match_is_refused_and_changes_nothing(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    headers = owner["headers"]
    created = _create(client, headers)
    url = f"{API}/{created['id']}"
    assert client.patch(url, headers={**headers, "If-Match": '"1"'}, json={"level": "A"}).status_code == 200
    stale = client.patch(url, headers={**headers, "If-Match": '"1"'}, json={"level": "C"})
    assert (stale.status_code, stale.json()["code"]) == (412, "version_mismatch")
    assert client.delete(url, headers={**headers, "If-Match": '"1"'}).status_code == 412
    assert client.get(url, headers=headers).json()["level"] == "A"


# --- transfer and scope ---------------------------------------------------------------------


@pytest.fixture
def sales(client: TestClient[Any], owner: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A team North with a manager and two reps, and a rep in another team."""
    tenant = owner["tenant_id"]
    manager = add_member(client, settings, tenant, "sales_manager")
    rep = add_member(client, settings, tenant, "sales_rep")
    colleague = add_member(client, settings, tenant, "sales_rep")
    outsider = add_member(client, settings, tenant, "sales_rep")
    north = client.post(
        "/api/v1/teams", headers=owner["headers"], json={"name": "North", "manager_id": manager["member_id"]}
    )
    assert north.status_code == 201, north.text
    for person in (rep, colleague):
        moved = client.patch(
            f"/api/v1/members/{person['member_id']}",
            headers=owner["headers"],
            json={"team_id": north.json()["id"]},
        )
        assert moved.status_code == 200, moved.text
    # Tokens carry the team: sign in again after the move.
    for person in (manager, rep, colleague, outsider):
        from tests.helpers import bearer, login

        person["headers"] = bearer(login(client, person["email"]).json()["access_token"])
        person["user_id"] = _user_id(client, person["headers"])
    return {"manager": manager, "rep": rep, "colleague": colleague, "outsider": outsider}


def test_a_rep_sees_only_their_own_customers_and_gets_404_on_a_colleagues_through_every_route(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings, sales: dict[str, Any]
) -> None:
    # A rep holding every customer permission at "own" scope, so no route stops at 403.
    grants = {p: "own" for p in _CUSTOMER_PERMISSIONS}
    role = client.post("/api/v1/roles", headers=owner["headers"], json={"name": "Closer", "grants": grants})
    assert role.status_code == 201, role.text
    rep = add_member(client, settings, owner["tenant_id"], "Closer")
    colleague = sales["colleague"]
    mine = _create(client, rep["headers"], name="Mine")
    theirs = _create(client, colleague["headers"], name="Theirs", contacts=[{"name": "C"}])
    contact_id = client.get(f"{API}/{theirs['id']}/contacts", headers=colleague["headers"]).json()[0]["id"]
    h = rep["headers"]
    assert [c["name"] for c in client.get(API, headers=h).json()["items"]] == ["Mine"]
    assert client.get(API, headers=h, params={"owner_id": colleague["user_id"]}).json()["items"] == []
    assert client.get(API, headers=h, params={"name_prefix": "The"}).json()["items"] == []
    url = f"{API}/{theirs['id']}"
    for method, path, body in (
        ("get", url, None),
        ("patch", url, {"level": "A"}),
        ("delete", url, None),
        ("post", f"{API}/{mine['id']}/merge", {"other_id": theirs["id"]}),
        ("post", f"{url}/merge", {"other_id": mine["id"]}),
        ("post", f"{API}/transfer", {"to_owner_id": _user_id(client, h), "customer_ids": [theirs["id"]]}),
        ("get", f"{url}/contacts", None),
        ("post", f"{url}/contacts", {"name": "X"}),
        ("get", f"{url}/contacts/{contact_id}", None),
        ("patch", f"{url}/contacts/{contact_id}", {"name": "X"}),
        ("delete", f"{url}/contacts/{contact_id}", None),
    ):
        response = client.request(method, path, headers=h, json=body)
        assert response.status_code == 404, (method, path, response.text)
    # A rep cannot give a customer to a colleague, on create or by transfer.
    gift = client.post(
        API, headers=h, json={"kind": "company", "name": "Gift", "owner_id": colleague["user_id"]}
    )
    assert gift.status_code == 403
    assert gift.json()["errors"][0]["field"] == "owner_id"
    handover = client.post(
        f"{API}/transfer", headers=h, json={"to_owner_id": colleague["user_id"], "customer_ids": [mine["id"]]}
    )
    assert handover.status_code == 403
    assert client.get(url, headers=colleague["headers"]).json()["level"] is None
    assert [c["name"] for c in client.get(f"{url}/contacts", headers=colleague["headers"]).json()] == ["C"]
    # The seeded sales_rep role reads and writes its own customers but neither merges nor deletes.
    seeded = sales["rep"]
    assert client.get(url, headers=seeded["headers"]).status_code == 404
    assert client.delete(f"{API}/{mine['id']}", headers=seeded["headers"]).status_code == 403


def test_a_manager_sees_the_team_and_transfers_between_reps(
    client: TestClient[Any], owner: dict[str, Any], sales: dict[str, Any], settings: Settings
) -> None:
    manager, rep, colleague, outsider = (sales[k] for k in ("manager", "rep", "colleague", "outsider"))
    a = _create(client, rep["headers"], name="A", stage="customer")
    b = _create(client, rep["headers"], name="B", stage="lead")
    c = _create(client, rep["headers"], name="C", stage="lead")
    hidden = _create(client, outsider["headers"], name="Hidden")
    assert sorted(x["name"] for x in client.get(API, headers=manager["headers"]).json()["items"]) == [
        "A",
        "B",
        "C",
    ]
    assert client.get(f"{API}/{hidden['id']}", headers=manager["headers"]).status_code == 404

    one = client.post(
        f"{API}/transfer",
        headers=manager["headers"],
        json={"to_owner_id": colleague["user_id"], "customer_ids": [a["id"]]},
    )
    assert one.status_code == 200, one.text
    assert one.json()["transferred"] == [a["id"]]
    assert client.get(f"{API}/{a['id']}", headers=rep["headers"]).status_code == 404
    assert (
        client.get(f"{API}/{a['id']}", headers=colleague["headers"]).json()["owner_id"]
        == colleague["user_id"]
    )

    leads = client.post(
        f"{API}/transfer",
        headers=manager["headers"],
        json={"to_owner_id": colleague["user_id"], "from_owner_id": rep["user_id"], "stage": "lead"},
    )
    assert sorted(leads.json()["transferred"]) == sorted([b["id"], c["id"]])
    assert client.get(API, headers=rep["headers"]).json()["items"] == []

    outside = client.post(
        f"{API}/transfer",
        headers=manager["headers"],
        json={"to_owner_id": colleague["user_id"], "customer_ids": [hidden["id"]]},
    )
    assert outside.status_code == 404
    to_outsider = client.post(
        f"{API}/transfer",
        headers=manager["headers"],
        json={"to_owner_id": outsider["user_id"], "customer_ids": [a["id"]]},
    )
    assert to_outsider.status_code == 403
    assert (
        client.post(
            f"{API}/transfer",
            headers=rep["headers"],
            json={"to_owner_id": rep["user_id"], "customer_ids": [a["id"]]},
        ).status_code
        == 403
    )

    transferred = [p for n, p in _events(settings) if n == "customers.transferred"]
    assert {p["customer_id"] for p in transferred} == {a["id"], b["id"], c["id"]}
    assert all(
        p["from_owner_id"] == rep["user_id"] and p["to_owner_id"] == colleague["user_id"] for p in transferred
    )
    audit = client.get(
        "/api/v1/audit",
        headers=owner["headers"],
        params={"entity_type": "customers", "action": "update", "limit": "200"},
    )
    assert audit.status_code == 200, audit.text
    owner_changes = [e["changes"] for e in audit.json()["items"] if e["entity_id"] == a["id"]]
    assert {"before": {"owner_id": rep["user_id"]}, "after": {"owner_id": colleague["user_id"]}} in [
        {"before": {"owner_id": ch["before"]["owner_id"]}, "after": {"owner_id": ch["after"]["owner_id"]}}
        for ch in owner_changes
        if "owner_id" in (ch.get("after") or {})
    ]


def test_another_tenants_customer_is_a_404(client: TestClient[Any], owner: dict[str, Any]) -> None:
    created = _create(client, owner["headers"], contacts=[{"name": "Ann"}])
    other = signup(client, "Other")
    assert client.get(f"{API}/{created['id']}", headers=other["headers"]).status_code == 404
    assert client.get(f"{API}/{created['id']}/contacts", headers=other["headers"]).status_code == 404
    assert client.get(API, headers=other["headers"]).json()["items"] == []
    # Duplicates are per business: the same company name is fine elsewhere.
    assert (
        client.post(API, headers=other["headers"], json={"kind": "company", "name": "Globex"}).status_code
        == 201
    )


# --- events and audit -----------------------------------------------------------------------


def test_changes_record_typed_events_without_personal_data(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    headers = owner["headers"]
    created = _create(client, headers, phone="13800138000", contacts=[{"name": "Ann"}])
    client.patch(f"{API}/{created['id']}", headers=headers, json={"level": "A", "industry": "Retail"})
    client.patch(f"{API}/{created['id']}", headers=headers, json={"level": "A"})  # no change: no event
    events = _events(settings)
    names = [n for n, _ in events]
    assert names.count("customers.created") == 1
    assert [p for n, p in events if n == "customers.updated"] == [
        {"customer_id": created["id"], "fields": ["industry", "level"]}
    ]
    assert "customers.contact_created" in names
    assert "13800138000" not in repr(events)
    refused = client.post(API, headers=headers, json={"kind": "company", "name": "Globex"})
    assert refused.status_code == 409
    assert len(_events(settings)) == len(events)  # a refused change records nothing


def test_customer_changes_are_audited_with_personal_data_redacted(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    headers = owner["headers"]
    created = _create(
        client, headers, phone="13800138000", contacts=[{"name": "Ann", "email": "ann@globex.com"}]
    )
    other = _create(client, headers, name="Initech")
    client.patch(f"{API}/{created['id']}", headers=headers, json={"level": "A"})
    client.post(f"{API}/{created['id']}/merge", headers=headers, json={"other_id": other["id"]})
    contact_id = client.get(f"{API}/{created['id']}/contacts", headers=headers).json()[0]["id"]
    client.patch(f"{API}/{created['id']}/contacts/{contact_id}", headers=headers, json={"title": "CEO"})
    client.post(f"{API}/{created['id']}/contacts", headers=headers, json={"name": "Bob"})
    client.delete(f"{API}/{created['id']}/contacts/{contact_id}", headers=headers)
    client.post(
        f"{API}/transfer",
        headers=headers,
        json={"to_owner_id": _user_id(client, headers), "customer_ids": [created["id"]]},
    )
    client.delete(f"{API}/{created['id']}", headers=headers)
    entries = client.get("/api/v1/audit", headers=headers, params={"limit": "200"}).json()["items"]
    seen = {(e["entity_type"], e["action"]) for e in entries}
    assert {("customers", "create"), ("customers", "update"), ("customers", "delete")} <= seen
    assert {("contacts", "create"), ("contacts", "update"), ("contacts", "delete")} <= seen
    assert any(e["entity_id"] == other["id"] and e["action"] == "delete" for e in entries)
    dumped = repr(entries)
    assert "13800138000" not in dumped
    assert "ann@globex.com" not in dumped
