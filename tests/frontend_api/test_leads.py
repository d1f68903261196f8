"""Leads through the API: CRUD and qualification, encryption and masking, assignment rules,
the public web form (token, honeypot, rate limit), conversion in one transaction, scope."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from core.kernel.settings import Settings
from frontend_api.app import create_app
from tests.frontend_api.test_customers import _events, _raw, _user_id
from tests.helpers import add_member, bearer, login, signup

API = "/api/v1/leads"
FORMS = "/api/v1/lead-forms"
RULES = "/api/v1/lead-assignment-rules"


@pytest.fixture
def owner(client: TestClient[Any]) -> dict[str, Any]:
    return signup(client, "Acme")


def _lead(client: TestClient[Any], headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = client.post(API, headers=headers, json={"name": "Li Lei", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _form(client: TestClient[Any], headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = client.post(FORMS, headers=headers, json={"name": "Website", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def team(client: TestClient[Any], owner: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Team North: a manager and two reps; a rep outside it."""
    tenant = owner["tenant_id"]
    manager = add_member(client, settings, tenant, "sales_manager")
    rep = add_member(client, settings, tenant, "sales_rep")
    colleague = add_member(client, settings, tenant, "sales_rep")
    outsider = add_member(client, settings, tenant, "sales_rep")
    north = client.post(
        "/api/v1/teams", headers=owner["headers"], json={"name": "North", "manager_id": manager["member_id"]}
    ).json()
    for person in (rep, colleague):
        moved = client.patch(
            f"/api/v1/members/{person['member_id']}", headers=owner["headers"], json={"team_id": north["id"]}
        )
        assert moved.status_code == 200, moved.text
    for person in (manager, rep, colleague, outsider):
        person["headers"] = bearer(login(client, person["email"]).json()["access_token"])
        person["user_id"] = _user_id(client, person["headers"])
    return {
        "team_id": north["id"],
        "manager": manager,
        "rep": rep,
        "colleague": colleague,
        "outsider": outsider,
    }


# --- CRUD, privacy, qualification -----------------------------------------------------------


def test_a_lead_is_created_read_qualified_and_deleted(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    h = owner["headers"]
    lead = _lead(client, h, company="Globex", phone="138 0013 8000", email="li@globex.com", source="expo")
    assert lead["status"] == "new"
    assert lead["owner_id"] == _user_id(client, h)  # no rule matched: the caller owns it
    assert lead["phone"] == "+8613800138000"
    url = f"{API}/{lead['id']}"
    assert client.get(url, headers=h).headers["etag"] == '"1"'
    # Disqualifying needs a reason, named in the problem; nothing changes without one.
    refused = client.post(f"{url}/status", headers=h, json={"status": "unqualified"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "reason"
    done = client.post(f"{url}/status", headers=h, json={"status": "unqualified", "reason": "No budget"})
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["status_reason"]) == ("unqualified", "No budget")
    assert client.post(f"{url}/status", headers=h, json={"status": "converted"}).status_code == 422
    changed = client.patch(url, headers={**h, "If-Match": '"1"'}, json={"region": "North"})
    assert changed.status_code == 412
    assert client.patch(url, headers=h, json={"region": "North"}).json()["region"] == "North"
    assert client.delete(url, headers=h).status_code == 204
    assert client.get(url, headers=h).status_code == 404
    names = [n for n, _ in _events(settings)]
    assert names.count("leads.created") == 1
    assert "leads.status_changed" in names


def test_lead_contact_details_are_encrypted_searchable_and_masked(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    _lead(client, owner["headers"], phone="13800138000", email="Li@Globex.com", message="Call me at 6pm")
    _lead(client, owner["headers"], name="Han Meimei", phone="13900139000")
    stored = repr(_raw(settings, "SELECT phone, email, message FROM leads"))
    assert "13800138000" not in stored
    assert "Globex" not in stored
    assert "6pm" not in stored
    found = client.get(API, headers=owner["headers"], params={"phone": "138-0013-8000"}).json()["items"]
    assert [lead["name"] for lead in found] == ["Li Lei"]
    found = client.get(API, headers=owner["headers"], params={"email": "li@globex.com"}).json()["items"]
    assert [lead["name"] for lead in found] == ["Li Lei"]
    viewer = add_member(client, settings, owner["tenant_id"], "sales_manager")
    # A role without customers.read_sensitive sees masked values.
    role = client.post(
        "/api/v1/roles",
        headers=owner["headers"],
        json={"name": "Lead reader", "grants": {"leads.read": "all"}},
    )
    assert role.status_code == 201, role.text
    reader = add_member(client, settings, owner["tenant_id"], "Lead reader")
    seen = client.get(API, headers=reader["headers"], params={"q": "Li Lei"}).json()["items"][0]
    assert seen["masked"] is True
    assert seen["phone"] == "+86 138****8000"
    assert seen["message"] == "****"
    assert client.get(API, headers=viewer["headers"]).status_code == 200


def test_bad_input_names_the_field_and_writes_nothing(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    response = client.post(API, headers=owner["headers"], json={"name": "X", "phone": "12"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "phone"
    response = client.post(API, headers=owner["headers"], json={"name": "X", "email": "not-an-email"})
    assert response.json()["errors"][0]["field"] == "email"
    assert _raw(settings, "SELECT id FROM leads") == []


def test_required_custom_fields_of_leads_are_validated(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    h = owner["headers"]
    field = client.post(
        "/api/v1/custom-fields/lead",
        headers=h,
        json={
            "key": "budget",
            "label": {"zh-CN": "预算", "en": "Budget"},
            "type": "number",
            "required": True,
        },
    )
    assert field.status_code == 201, field.text
    missing = client.post(API, headers=h, json={"name": "X"})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "custom_fields.budget"
    _lead(client, h, name="Big", custom_fields={"budget": 50000})
    _lead(client, h, name="Small", custom_fields={"budget": 100})
    big = client.get(API, headers=h, params={"cf.budget__gte": "1000"}).json()["items"]
    assert [lead["name"] for lead in big] == ["Big"]


# --- assignment rules ------------------------------------------------------------------------


def test_round_robin_gives_new_leads_to_the_team_in_turn(
    client: TestClient[Any], owner: dict[str, Any], team: dict[str, Any]
) -> None:
    h = owner["headers"]
    rule = client.post(
        RULES, headers=h, json={"name": "North", "strategy": "round_robin", "team_id": team["team_id"]}
    )
    assert rule.status_code == 201, rule.text
    owners = [_lead(client, h, name=f"L{i}")["owner_id"] for i in range(4)]
    members = {team["rep"]["user_id"], team["colleague"]["user_id"]}
    assert set(owners) == members
    assert owners[0] != owners[1]
    assert owners[0] == owners[2]
    assert owners[1] == owners[3]
    # An explicit owner beats the rules.
    assert _lead(client, h, owner_id=team["outsider"]["user_id"])["owner_id"] == team["outsider"]["user_id"]


def test_rules_match_on_source_and_region_in_order(
    client: TestClient[Any], owner: dict[str, Any], team: dict[str, Any]
) -> None:
    h = owner["headers"]
    outsider, rep = team["outsider"]["user_id"], team["rep"]["user_id"]
    client.post(
        RULES, headers=h, json={"name": "Expo", "strategy": "user", "user_id": outsider, "source": "Expo"}
    )
    client.post(
        RULES, headers=h, json={"name": "South", "strategy": "user", "user_id": rep, "region": "south"}
    )
    assert [r["name"] for r in client.get(RULES, headers=h).json()] == ["Expo", "South"]
    assert _lead(client, h, source="expo", region="South")["owner_id"] == outsider  # first rule wins
    assert _lead(client, h, source="web", region="South")["owner_id"] == rep
    assert _lead(client, h, source="web")["owner_id"] == _user_id(client, h)
    bad = client.post(RULES, headers=h, json={"name": "X", "strategy": "round_robin"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "team_id"


# --- the public web form -----------------------------------------------------------------------


def test_a_web_form_turns_submissions_into_assigned_leads(
    client: TestClient[Any], owner: dict[str, Any], team: dict[str, Any], settings: Settings
) -> None:
    h = owner["headers"]
    form = _form(client, h, source="website")
    assert form["token"].startswith("lf_")
    assert form["submit_path"].endswith(form["token"])
    assert "token" not in client.get(f"{FORMS}/{form['id']}", headers=h).json()
    client.post(
        RULES,
        headers=h,
        json={"name": "Web", "strategy": "user", "user_id": team["rep"]["user_id"], "source": "website"},
    )
    sent = client.post(
        form["submit_path"], json={"name": "王小明", "phone": "13700137000", "extra": "ignored"}
    )
    assert sent.status_code == 201, sent.text
    assert sent.json() == {"received": True}
    posted = client.post(
        form["submit_path"],
        content="name=Jane+Doe&email=jane%40example.com&company=Initech",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert posted.status_code == 201, posted.text
    leads = client.get(API, headers=team["rep"]["headers"]).json()["items"]
    assert sorted(lead["name"] for lead in leads) == ["Jane Doe", "王小明"]
    assert {lead["source"] for lead in leads} == {"website"}
    assert {lead["form_id"] for lead in leads} == {form["id"]}
    created = [p for n, p in _events(settings) if n == "leads.created"]
    assert {p["channel"] for p in created} == {"form"}
    missing = client.post(form["submit_path"], json={"email": "x@example.com"})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "name"


def test_the_honeypot_drops_robots_without_telling_them(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    form = _form(client, owner["headers"], honeypot_field="homepage")
    robot = client.post(form["submit_path"], json={"name": "Buy now", "homepage": "http://spam.example"})
    assert robot.status_code == 201
    assert robot.json() == {"received": True}
    assert _raw(settings, "SELECT id FROM leads") == []
    person = client.post(form["submit_path"], json={"name": "Real", "homepage": ""})
    assert person.status_code == 201
    assert len(_raw(settings, "SELECT id FROM leads")) == 1


def test_a_wrong_rotated_or_switched_off_token_is_a_404(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    h = owner["headers"]
    form = _form(client, h)
    old_path = form["submit_path"]
    tampered = old_path[:-4] + ("aaaa" if not old_path.endswith("aaaa") else "bbbb")
    assert client.post(tampered, json={"name": "X"}).status_code == 404
    assert client.post("/api/v1/public/lead-forms/nonsense", json={"name": "X"}).status_code == 404
    rotated = client.post(f"{FORMS}/{form['id']}/rotate-token", headers=h)
    assert rotated.status_code == 200
    assert client.post(old_path, json={"name": "X"}).status_code == 404
    assert client.post(rotated.json()["submit_path"], json={"name": "X"}).status_code == 201
    off = client.patch(f"{FORMS}/{form['id']}", headers=h, json={"is_active": False})
    assert off.status_code == 200
    assert client.post(rotated.json()["submit_path"], json={"name": "Y"}).status_code == 404
    assert len(_raw(settings, "SELECT id FROM leads")) == 1


@pytest.fixture
def limited_client(settings: Settings) -> Iterator[TestClient[Any]]:
    app = create_app(
        dataclasses.replace(settings, rate_limit_lead_form="2/minute", rate_limit_per_ip="1000/minute")
    )
    with TestClient(app) as client:
        yield client


def test_submissions_are_rate_limited_per_form_and_ip(limited_client: TestClient[Any]) -> None:
    owner = signup(limited_client, "Acme")
    first, second = (_form(limited_client, owner["headers"], name=n) for n in ("A", "B"))
    for _ in range(2):
        assert limited_client.post(first["submit_path"], json={"name": "X"}).status_code == 201
    refused = limited_client.post(first["submit_path"], json={"name": "X"})
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert "retry-after" in refused.headers
    # Another form counts on its own.
    assert limited_client.post(second["submit_path"], json={"name": "X"}).status_code == 201


# --- unassigned leads and assignment by hand ---------------------------------------------------


def test_unassigned_leads_are_seen_by_assigners_only_and_given_out_by_them(
    client: TestClient[Any], owner: dict[str, Any], team: dict[str, Any], settings: Settings
) -> None:
    form = _form(client, owner["headers"])
    client.post(form["submit_path"], json={"name": "Nobody's"})
    manager, rep = team["manager"], team["rep"]
    unassigned = client.get(API, headers=manager["headers"], params={"unassigned": True}).json()["items"]
    assert [lead["name"] for lead in unassigned] == ["Nobody's"]
    assert client.get(API, headers=rep["headers"]).json()["items"] == []
    lead_id = unassigned[0]["id"]
    assert client.get(f"{API}/{lead_id}", headers=rep["headers"]).status_code == 404
    out = client.post(
        f"{API}/{lead_id}/assign",
        headers=manager["headers"],
        json={"to_owner_id": team["outsider"]["user_id"]},
    )
    assert out.status_code == 403  # outside the manager's team
    given = client.post(
        f"{API}/{lead_id}/assign", headers=manager["headers"], json={"to_owner_id": rep["user_id"]}
    )
    assert given.status_code == 200, given.text
    assert client.get(f"{API}/{lead_id}", headers=rep["headers"]).json()["owner_id"] == rep["user_id"]
    assigned = [p for n, p in _events(settings) if n == "leads.assigned"]
    assert assigned == [
        {"lead_id": lead_id, "from_owner_id": None, "to_owner_id": rep["user_id"], "rule_id": None}
    ]


# --- conversion --------------------------------------------------------------------------------


def test_converting_a_company_lead_creates_customer_and_contact_in_one_go(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    h = owner["headers"]
    lead = _lead(client, h, company="Globex", title="Buyer", phone="13800138000", source="expo")
    converted = client.post(f"{API}/{lead['id']}/convert", headers=h, json={})
    assert converted.status_code == 200, converted.text
    result = converted.json()
    customer = client.get(f"/api/v1/customers/{result['customer_id']}", headers=h).json()
    assert (customer["kind"], customer["name"], customer["source"], customer["stage"]) == (
        "company",
        "Globex",
        "expo",
        "prospect",
    )
    contacts = client.get(f"/api/v1/customers/{result['customer_id']}/contacts", headers=h).json()
    assert [(c["id"], c["name"], c["title"], c["phone"], c["is_primary"]) for c in contacts] == [
        (result["contact_id"], "Li Lei", "Buyer", "+8613800138000", True)
    ]
    shown = client.get(f"{API}/{lead['id']}", headers=h).json()
    assert (shown["status"], shown["converted_customer_id"]) == ("converted", result["customer_id"])
    again = client.post(f"{API}/{lead['id']}/convert", headers=h, json={})
    assert again.status_code == 409
    assert again.json()["code"] == "lead_converted"
    assert client.patch(f"{API}/{lead['id']}", headers=h, json={"name": "Y"}).status_code == 409
    converted_events = [p for n, p in _events(settings) if n == "leads.converted"]
    assert converted_events[0]["customer_id"] == result["customer_id"]


def test_a_duplicate_on_conversion_points_at_the_customer_and_writes_nothing(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    h = owner["headers"]
    existing = client.post("/api/v1/customers", headers=h, json={"kind": "company", "name": "Globex"}).json()
    lead = _lead(client, h, company="globex", phone="13800138000")
    refused = client.post(f"{API}/{lead['id']}/convert", headers=h, json={})
    assert refused.status_code == 409
    assert refused.json()["code"] == "duplicate_customer"
    assert refused.json()["existing_id"] == existing["id"]
    assert client.get(f"{API}/{lead['id']}", headers=h).json()["status"] == "new"
    assert len(_raw(settings, "SELECT id FROM customers")) == 1
    # Attach to the existing customer instead: the person becomes its contact.
    attached = client.post(f"{API}/{lead['id']}/convert", headers=h, json={"customer_id": existing["id"]})
    assert attached.status_code == 200, attached.text
    assert attached.json()["customer_id"] == existing["id"]
    contacts = client.get(f"/api/v1/customers/{existing['id']}/contacts", headers=h).json()
    assert [c["name"] for c in contacts] == ["Li Lei"]


def test_an_individual_lead_becomes_an_individual_customer(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    h = owner["headers"]
    lead = _lead(client, h, name="Wang Fang", email="wf@example.com")
    result = client.post(f"{API}/{lead['id']}/convert", headers=h, json={}).json()
    customer = client.get(f"/api/v1/customers/{result['customer_id']}", headers=h).json()
    assert (customer["kind"], customer["name"], customer["email"]) == (
        "individual",
        "Wang Fang",
        "wf@example.com",
    )


def test_an_unqualified_lead_is_not_converted(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    h = owner["headers"]
    lead = _lead(client, h)
    client.post(f"{API}/{lead['id']}/status", headers=h, json={"status": "unqualified", "reason": "Spam"})
    refused = client.post(f"{API}/{lead['id']}/convert", headers=h, json={})
    assert refused.status_code == 409
    assert refused.json()["code"] == "lead_unqualified"
    assert _raw(settings, "SELECT id FROM customers") == []


# --- scope and isolation -----------------------------------------------------------------------


def test_a_rep_gets_404_on_a_colleagues_lead_through_every_route(
    client: TestClient[Any], owner: dict[str, Any], team: dict[str, Any]
) -> None:
    rep, colleague = team["rep"], team["colleague"]
    mine = _lead(client, rep["headers"], name="Mine")
    theirs = _lead(client, colleague["headers"], name="Theirs")
    h = rep["headers"]
    assert [lead["name"] for lead in client.get(API, headers=h).json()["items"]] == ["Mine"]
    assert client.get(API, headers=h, params={"owner_id": colleague["user_id"]}).json()["items"] == []
    url = f"{API}/{theirs['id']}"
    for method, path, body in (
        ("get", url, None),
        ("patch", url, {"region": "X"}),
        ("post", f"{url}/status", {"status": "contacted"}),
        ("post", f"{url}/convert", {}),
    ):
        response = client.request(method, path, headers=h, json=body)
        assert response.status_code == 404, (method, path, response.text)
    # A rep holds neither leads.delete nor leads.assign.
    assert client.delete(url, headers=h).status_code == 403
    assert client.post(f"{url}/assign", headers=h, json={"to_owner_id": rep["user_id"]}).status_code == 403
    # The manager of their team sees both.
    names = {lead["name"] for lead in client.get(API, headers=team["manager"]["headers"]).json()["items"]}
    assert names == {"Mine", "Theirs"}
    assert client.get(f"{API}/{mine['id']}", headers=colleague["headers"]).status_code == 404


def test_another_tenants_leads_forms_and_rules_are_404(
    client: TestClient[Any], owner: dict[str, Any], team: dict[str, Any]
) -> None:
    h = owner["headers"]
    lead = _lead(client, h)
    form = _form(client, h)
    rule = client.post(
        RULES, headers=h, json={"name": "R", "strategy": "user", "user_id": team["rep"]["user_id"]}
    ).json()
    other = signup(client, "Other")["headers"]
    for method, path, body in (
        ("get", f"{API}/{lead['id']}", None),
        ("patch", f"{API}/{lead['id']}", {"name": "X"}),
        ("delete", f"{API}/{lead['id']}", None),
        ("post", f"{API}/{lead['id']}/status", {"status": "contacted"}),
        ("post", f"{API}/{lead['id']}/assign", {"to_owner_id": team["rep"]["user_id"]}),
        ("post", f"{API}/{lead['id']}/convert", {}),
        ("get", f"{FORMS}/{form['id']}", None),
        ("patch", f"{FORMS}/{form['id']}", {"name": "X"}),
        ("post", f"{FORMS}/{form['id']}/rotate-token", None),
        ("delete", f"{FORMS}/{form['id']}", None),
        ("get", f"{RULES}/{rule['id']}", None),
        ("patch", f"{RULES}/{rule['id']}", {"name": "X"}),
        ("delete", f"{RULES}/{rule['id']}", None),
    ):
        response = client.request(method, path, headers=other, json=body)
        assert response.status_code == 404, (method, path, response.text)
    assert client.get(API, headers=other).json()["items"] == []
    assert client.get(FORMS, headers=other).json()["items"] == []
    assert client.get(RULES, headers=other).json() == []


def test_lead_changes_are_audited_without_personal_data(
    client: TestClient[Any], owner: dict[str, Any], team: dict[str, Any]
) -> None:
    h = owner["headers"]
    rep = team["rep"]["user_id"]
    rule = client.post(RULES, headers=h, json={"name": "R", "strategy": "user", "user_id": rep}).json()
    client.patch(f"{RULES}/{rule['id']}", headers=h, json={"name": "Rule"})
    form = _form(client, h)
    client.patch(f"{FORMS}/{form['id']}", headers=h, json={"name": "Site"})
    form = client.post(f"{FORMS}/{form['id']}/rotate-token", headers=h).json()
    client.post(form["submit_path"], json={"name": "From the web", "phone": "13900139000"})
    lead = _lead(client, h, phone="13800138000", company="Globex")
    url = f"{API}/{lead['id']}"
    client.patch(url, headers=h, json={"region": "North"})
    client.post(f"{url}/status", headers=h, json={"status": "qualified"})
    client.post(f"{url}/assign", headers=h, json={"to_owner_id": rep})
    assert client.post(f"{url}/convert", headers=h, json={}).status_code == 200
    client.delete(url, headers=h)
    client.delete(f"{FORMS}/{form['id']}", headers=h)
    client.delete(f"{RULES}/{rule['id']}", headers=h)
    entries = client.get("/api/v1/audit", headers=h, params={"limit": "200"}).json()["items"]
    seen = {(e["entity_type"], e["action"]) for e in entries}
    for table in ("leads", "lead_forms", "lead_assignment_rules"):
        assert {(table, "create"), (table, "update"), (table, "delete")} <= seen, table
    assert ("customers", "create") in seen  # the conversion
    web = [e for e in entries if e["entity_type"] == "leads" and e["actor_type"] == "anonymous"]
    assert [e["action"] for e in web] == ["create"]
    dumped = json.dumps(entries)
    assert "13800138000" not in dumped
    assert "13900139000" not in dumped
