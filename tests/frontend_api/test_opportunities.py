"""Opportunities through the API: CRUD with defaults and validation, custom fields, filters,
stage moves with their history, won/lost/reopen rules, the board, scope on every route,
stage removal, customer merge/transfer/deletion, lead conversion and the audit trail."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from core.kernel.settings import Settings
from frontend_api.app import create_app
from tests.frontend_api import test_customers as customer_tests
from tests.frontend_api.test_customers import _create, _events, _raw, _user_id
from tests.frontend_api.test_timeline import _execute
from tests.helpers import add_member, signup

owner = customer_tests.owner
sales = customer_tests.sales

API = "/api/v1/opportunities"
PIPELINES = "/api/v1/pipelines"
MISSING = "01234567-89ab-7def-8123-456789abcdef"


def _sql_id(settings: Settings, value: str) -> str:
    """An id as the database stores it (SQLite: 32 hex digits; PostgreSQL: a uuid)."""
    return uuid.UUID(value).hex if settings.database_url.startswith("sqlite") else value


def _sql_time(settings: Settings, moment: str) -> str:
    """A UTC ``YYYY-MM-DD HH:MM:SS`` as the database stores it (SQLite: text without offset)."""
    return f"{moment}.000000" if settings.database_url.startswith("sqlite") else f"{moment}+00:00"


def _pipeline(client: TestClient[Any], headers: dict[str, str]) -> dict[str, Any]:
    """The default pipeline: stages Initial contact 10, Needs confirmed 30, Proposal 50,
    Negotiation 70, Won 100, Lost 0."""
    items = client.get(PIPELINES, headers=headers).json()["items"]
    return next(p for p in items if p["is_default"])  # type: ignore[no-any-return]


def _stage(pipeline: dict[str, Any], position: int) -> str:
    return str(next(s["id"] for s in pipeline["stages"] if s["position"] == position))


def _opportunity(client: TestClient[Any], headers: dict[str, str], customer_id: str, **fields: Any) -> Any:
    response = client.post(API, headers=headers, json={"name": "Deal", "customer_id": customer_id, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def _count(settings: Settings, table: str = "opportunities") -> int:
    return int(_raw(settings, f"SELECT count(*) FROM {table}")[0][0])


# --- CRUD, defaults, validation -----------------------------------------------------------


def test_an_opportunity_starts_in_the_default_pipelines_first_stage_and_is_changed_and_deleted(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    h = owner["headers"]
    customer = _create(client, h, contacts=[{"name": "Li Lei"}])
    pipeline = _pipeline(client, h)
    deal = _opportunity(
        client,
        h,
        customer["id"],
        contact_id=customer["contacts"][0]["id"],
        amount="120000.50",
        expected_close_date="2027-01-31",
        products=[{"name": "CRM licence", "sku": "CRM-1", "quantity": "20"}, {"name": "Training"}],
    )
    assert (deal["pipeline_id"], deal["stage_id"]) == (pipeline["id"], _stage(pipeline, 1))
    assert (deal["amount"], deal["currency"], deal["probability"]) == ("120000.50", "CNY", 10)
    assert deal["weighted_amount"] == "12000.05"
    assert (deal["forecast_category"], deal["forecast_category_set"]) == ("pipeline", False)
    assert deal["owner_id"] == _user_id(client, h)
    assert deal["status"] == "open"
    assert deal["products"] == [
        {"name": "CRM licence", "sku": "CRM-1", "quantity": "20"},
        {"name": "Training"},
    ]
    url = f"{API}/{deal['id']}"
    shown = client.get(url, headers=h)
    assert shown.headers["etag"] == '"1"'
    assert [v["stage_id"] for v in shown.json()["stage_history"]] == [_stage(pipeline, 1)]
    stale = client.patch(url, headers={**h, "If-Match": '"0"'}, json={"amount": "1"})
    assert stale.status_code == 412
    changed = client.patch(
        url,
        headers={**h, "If-Match": '"1"'},
        json={"amount": "99.9", "currency": "usd", "forecast_category": "commit"},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["amount"], body["currency"], body["forecast_category"], body["forecast_category_set"]) == (
        "99.90",
        "USD",
        "commit",
        True,
    )
    assert changed.headers["etag"] == '"2"'
    back = client.patch(url, headers=h, json={"forecast_category": None}).json()
    assert (back["forecast_category"], back["forecast_category_set"]) == ("pipeline", False)
    assert client.delete(url, headers=h).status_code == 204
    assert client.get(url, headers=h).status_code == 404
    assert _count(settings) == 0
    assert _count(settings, "opportunity_stage_history") == 0
    assert [n for n, _ in _events(settings) if n.startswith("opportunities.")] == ["opportunities.created"]


@pytest.mark.parametrize(
    ("fields", "status", "field", "code"),
    [
        ({"currency": "XYZ"}, 422, "currency", "invalid_currency"),
        ({"amount": "10.123"}, 422, "amount", "invalid_amount"),
        ({"amount": "-1"}, 422, "amount", "invalid_amount"),
        ({"amount": "5", "currency": "JPY"}, None, None, None),
        ({"amount": "5.5", "currency": "JPY"}, 422, "amount", "invalid_amount"),
        ({"forecast_category": "maybe"}, 422, "forecast_category", "invalid_choice"),
        ({"name": "   "}, 422, "name", "required"),
        ({"customer_id": MISSING}, 404, "customer_id", "not_found"),
        ({"contact_id": MISSING}, 404, "contact_id", "not_found"),
        ({"stage_id": MISSING}, 404, "stage_id", "not_found"),
        ({"pipeline_id": MISSING}, 404, "pipeline_id", "not_found"),
        ({"products": [{"name": "X", "quantity": 0}]}, 422, "products[0].quantity", "out_of_range"),
        ({"owner_id": MISSING}, 422, "owner_id", "unknown_owner"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(
    client: TestClient[Any],
    owner: dict[str, Any],
    settings: Settings,
    fields: dict[str, Any],
    status: int | None,
    field: str | None,
    code: str | None,
) -> None:
    h = owner["headers"]
    customer = _create(client, h)
    response = client.post(API, headers=h, json={"name": "Deal", "customer_id": customer["id"], **fields})
    if status is None:
        assert response.status_code == 201, response.text
        return
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["errors"][0]["field"] == field
    if code:
        assert problem["code"] == code
    assert _count(settings) == 0


def test_a_contact_of_another_customer_and_a_closed_stage_are_refused(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    h = owner["headers"]
    customer = _create(client, h)
    other = _create(client, h, name="Initech", contacts=[{"name": "Bob"}])
    refused = client.post(
        API,
        headers=h,
        json={"name": "D", "customer_id": customer["id"], "contact_id": other["contacts"][0]["id"]},
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "other_customer")
    won = _stage(_pipeline(client, h), 5)
    refused = client.post(API, headers=h, json={"name": "D", "customer_id": customer["id"], "stage_id": won})
    assert (refused.status_code, refused.json()["code"]) == (422, "stage_closed")


def test_custom_fields_are_validated_merged_and_filtered(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    h = owner["headers"]
    for body in (
        {"key": "region", "label": {"zh-CN": "区域", "en": "Region"}, "type": "text"},
        {"key": "seats", "label": {"zh-CN": "席位", "en": "Seats"}, "type": "number"},
    ):
        assert client.post("/api/v1/custom-fields/opportunity", headers=h, json=body).status_code == 201
    customer = _create(client, h)
    refused = client.post(
        API, headers=h, json={"name": "D", "customer_id": customer["id"], "custom_fields": {"seats": "many"}}
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "custom_fields.seats"
    big = _opportunity(client, h, customer["id"], name="Big", custom_fields={"region": "North", "seats": 50})
    _opportunity(client, h, customer["id"], name="Small", custom_fields={"seats": 5})
    patched = client.patch(f"{API}/{big['id']}", headers=h, json={"custom_fields": {"seats": 60}}).json()
    assert patched["custom_fields"] == {"region": "North", "seats": 60}
    found = client.get(API, headers=h, params={"cf.seats__gte": "10"}).json()["items"]
    assert [o["name"] for o in found] == ["Big"]


def test_the_list_filters_sorts_and_pages(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    h = owner["headers"]
    globex, initech = _create(client, h), _create(client, h, name="Initech")
    pipeline = _pipeline(client, h)
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    rep_id = _user_id(client, rep["headers"])
    a = _opportunity(
        client, h, globex["id"], name="Alpha deal", amount="100", expected_close_date="2027-01-10"
    )
    b = _opportunity(
        client,
        h,
        globex["id"],
        name="Beta deal",
        amount="5000",
        expected_close_date="2027-02-10",
        stage_id=_stage(pipeline, 3),
    )
    c = _opportunity(client, h, initech["id"], name="Gamma", amount="900", currency="USD", owner_id=rep_id)
    client.post(f"{API}/{a['id']}/lost", headers=h, json={"reason": "Price"})

    def names(**params: Any) -> list[str]:
        response = client.get(API, headers=h, params=params)
        assert response.status_code == 200, response.text
        return [o["name"] for o in response.json()["items"]]

    assert names() == ["Alpha deal", "Beta deal", "Gamma"]
    assert names(status="open") == ["Beta deal", "Gamma"]
    assert names(status="lost") == ["Alpha deal"]
    assert names(stage_id=_stage(pipeline, 3)) == ["Beta deal"]
    assert names(pipeline_id=pipeline["id"], customer_id=globex["id"]) == ["Alpha deal", "Beta deal"]
    assert names(owner_id=rep_id) == ["Gamma"]
    assert names(close_from="2027-01-10", close_to="2027-01-31") == ["Alpha deal"]
    assert names(amount_min="900", amount_max="5000") == ["Beta deal", "Gamma"]
    assert names(amount_min="900", currency="USD") == ["Gamma"]
    assert names(q="DEAL") == ["Alpha deal", "Beta deal"]
    assert names(sort="-amount") == ["Beta deal", "Gamma", "Alpha deal"]
    first = client.get(API, headers=h, params={"limit": 2, "sort": "-created_at"}).json()
    second = client.get(
        API, headers=h, params={"limit": 2, "sort": "-created_at", "cursor": first["next_cursor"]}
    )
    assert second.status_code == 200, second.text
    assert [o["name"] for o in first["items"] + second.json()["items"]] == [
        "Gamma",
        "Beta deal",
        "Alpha deal",
    ]
    assert client.get(API, headers=h, params={"status": "maybe"}).status_code == 422
    assert client.get(API, headers=h, params={"sort": "owner"}).json()["code"] == "invalid_sort"
    assert c["currency"] == "USD"
    assert b["probability"] == 50


# --- stages, history, won / lost / reopen -------------------------------------------------


def test_moves_keep_a_stage_history_with_the_time_spent_in_each_stage(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    h = owner["headers"]
    pipeline = _pipeline(client, h)
    deal = _opportunity(client, h, _create(client, h)["id"])
    url = f"{API}/{deal['id']}"
    moved = client.post(
        f"{url}/stage", headers={**h, "If-Match": '"1"'}, json={"stage_id": _stage(pipeline, 3)}
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["stage_id"], moved.json()["probability"]) == (_stage(pipeline, 3), 50)
    assert moved.json()["forecast_category"] == "best_case"
    assert (
        client.post(
            f"{url}/stage", headers={**h, "If-Match": '"1"'}, json={"stage_id": _stage(pipeline, 2)}
        ).status_code
        == 412
    )
    client.post(f"{url}/stage", headers=h, json={"stage_id": _stage(pipeline, 2)})
    # Pin the three stays to known times: 2 days, then 3 hours, then still there.
    visits = _raw(
        settings,
        "SELECT id FROM opportunity_stage_history"
        f" WHERE opportunity_id = '{_sql_id(settings, deal['id'])}' ORDER BY entered_at",
    )
    times = [
        ("2026-01-01 00:00:00", "2026-01-03 00:00:00"),
        ("2026-01-03 00:00:00", "2026-01-03 03:00:00"),
    ]
    for (visit_id,), (entered, left) in zip(visits, times, strict=False):
        sql = (
            f"UPDATE opportunity_stage_history SET entered_at = '{_sql_time(settings, entered)}',"
            f" left_at = '{_sql_time(settings, left)}'"
        )
        _execute(settings, f"{sql} WHERE id = '{visit_id}'")
    history = client.get(url, headers=h).json()["stage_history"]
    assert [(v["stage_id"], v["seconds"]) for v in history[:2]] == [
        (_stage(pipeline, 1), 2 * 86400),
        (_stage(pipeline, 3), 3 * 3600),
    ]
    assert history[2]["stage_id"] == _stage(pipeline, 2)
    assert history[2]["left_at"] is None
    assert history[2]["seconds"] >= 0
    names = [n for n, _ in _events(settings)]
    assert names.count("opportunities.stage_changed") == 2


def test_won_and_lost_close_the_opportunity_and_only_a_manager_reopens_it(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings, sales: dict[str, Any]
) -> None:
    rep, manager = sales["rep"], sales["manager"]
    h = rep["headers"]
    pipeline = _pipeline(client, owner["headers"])
    customer = _create(client, h)
    deal = _opportunity(client, h, customer["id"], amount="1000")
    url = f"{API}/{deal['id']}"
    client.post(f"{url}/stage", headers=h, json={"stage_id": _stage(pipeline, 4)})
    won = client.post(f"{url}/stage", headers=h, json={"stage_id": _stage(pipeline, 5)})
    assert won.status_code == 200, won.text
    assert (won.json()["status"], won.json()["probability"]) == ("won", 100)
    assert won.json()["won_at"] is not None
    # The win restarts the customer's clock in the public pool.
    assert (
        client.get(f"/api/v1/customers/{customer['id']}", headers=h).json()["last_deal_at"]
        == won.json()["won_at"]
    )
    for path, body in (("stage", {"stage_id": _stage(pipeline, 2)}), ("won", {}), ("lost", {"reason": "x"})):
        refused = client.post(f"{url}/{path}", headers=h, json=body)
        assert (refused.status_code, refused.json()["code"]) == (409, "opportunity_closed"), path
    # Reopening needs opportunities.reopen: a rep lacks it, their manager has it.
    assert client.post(f"{url}/reopen", headers=h, json={}).status_code == 403
    reopened = client.post(f"{url}/reopen", headers=manager["headers"], json={})
    assert reopened.status_code == 200, reopened.text
    assert (reopened.json()["status"], reopened.json()["stage_id"]) == ("open", _stage(pipeline, 4))
    assert reopened.json()["won_at"] is None
    assert (
        client.post(f"{url}/reopen", headers=manager["headers"], json={}).json()["code"] == "opportunity_open"
    )
    # Lost needs a reason, by /lost or by moving into the lost stage.
    assert client.post(f"{url}/lost", headers=h, json={}).status_code == 422
    blank = client.post(f"{url}/lost", headers=h, json={"reason": "  "})
    assert (blank.status_code, blank.json()["errors"][0]["field"]) == (422, "lost_reason")
    refused = client.post(f"{url}/stage", headers=h, json={"stage_id": _stage(pipeline, 6)})
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "lost_reason")
    lost = client.post(
        f"{url}/stage", headers=h, json={"stage_id": _stage(pipeline, 6), "lost_reason": "Budget cut"}
    )
    assert (lost.json()["status"], lost.json()["lost_reason"]) == ("lost", "Budget cut")
    again = client.post(f"{url}/reopen", headers=manager["headers"], json={"stage_id": _stage(pipeline, 6)})
    assert (again.status_code, again.json()["code"]) == (422, "stage_closed")
    client.post(f"{url}/reopen", headers=manager["headers"], json={"stage_id": _stage(pipeline, 1)})
    final = client.post(f"{url}/won", headers=h, json={"amount": "1200.00"}).json()
    assert (final["status"], final["amount"], final["lost_reason"]) == ("won", "1200.00", None)
    stays = [(v["stage_id"], v["left_at"] is None) for v in final["stage_history"]]
    assert stays == [
        (_stage(pipeline, 1), False),
        (_stage(pipeline, 4), False),
        (_stage(pipeline, 5), False),
        (_stage(pipeline, 4), False),
        (_stage(pipeline, 6), False),
        (_stage(pipeline, 1), False),
        (_stage(pipeline, 5), True),
    ]
    names = [n for n, _ in _events(settings) if n.startswith("opportunities.")]
    assert names.count("opportunities.won") == 2
    assert names.count("opportunities.lost") == 1
    assert names.count("opportunities.reopened") == 2
    won_payload = [p for n, p in _events(settings) if n == "opportunities.won"][-1]
    assert (won_payload["customer_id"], won_payload["amount"], won_payload["currency"]) == (
        customer["id"],
        "1200.00",
        "CNY",
    )


def test_a_stage_with_opportunities_cannot_be_removed(client: TestClient[Any], owner: dict[str, Any]) -> None:
    h = owner["headers"]
    pipeline = _pipeline(client, h)
    deal = _opportunity(client, h, _create(client, h)["id"], stage_id=_stage(pipeline, 2))
    url = f"{PIPELINES}/{pipeline['id']}/stages/{_stage(pipeline, 2)}"
    refused = client.delete(url, headers=h)
    assert (refused.status_code, refused.json()["code"]) == (409, "stage_in_use")
    client.post(f"{API}/{deal['id']}/stage", headers=h, json={"stage_id": _stage(pipeline, 3)})
    assert client.delete(url, headers=h).status_code == 200


def test_moving_to_a_stage_of_another_pipeline_changes_the_pipeline(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    h = owner["headers"]
    projects = client.post(PIPELINES, headers=h, json={"name": "Projects", "locale": "en"}).json()
    deal = _opportunity(client, h, _create(client, h)["id"])
    moved = client.post(f"{API}/{deal['id']}/stage", headers=h, json={"stage_id": _stage(projects, 2)}).json()
    assert (moved["pipeline_id"], moved["stage_id"]) == (projects["id"], _stage(projects, 2))
    assert client.post(f"{PIPELINES}/{projects['id']}/archive", headers=h).status_code == 200
    refused = client.post(f"{API}/{deal['id']}/stage", headers=h, json={"stage_id": _stage(projects, 3)})
    assert (refused.status_code, refused.json()["code"]) == (409, "pipeline_archived")
    refused = client.post(
        API, headers=h, json={"name": "D", "customer_id": deal["customer_id"], "pipeline_id": projects["id"]}
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "pipeline_archived")


# --- the board ----------------------------------------------------------------------------


def test_the_board_shows_open_stages_with_capped_opportunities_and_sums_per_currency(
    client: TestClient[Any], owner: dict[str, Any], sales: dict[str, Any]
) -> None:
    h = owner["headers"]
    pipeline = _pipeline(client, h)
    customer = _create(client, h)
    first, third = _stage(pipeline, 1), _stage(pipeline, 3)
    _opportunity(client, h, customer["id"], name="A", amount="1000.00", expected_close_date="2027-03-01")
    _opportunity(client, h, customer["id"], name="B", amount="333.33", expected_close_date="2027-02-01")
    _opportunity(client, h, customer["id"], name="C", amount="200", currency="USD", stage_id=third)
    _opportunity(client, h, customer["id"], name="D", amount="50.01", stage_id=third)
    closed = _opportunity(client, h, customer["id"], name="Won one", amount="7777")
    client.post(f"{API}/{closed['id']}/won", headers=h, json={})
    rep_customer = _create(client, sales["rep"]["headers"], name="Rep's")
    _opportunity(client, sales["rep"]["headers"], rep_customer["id"], name="Rep deal", amount="10")

    response = client.get(f"{PIPELINES}/{pipeline['id']}/board", headers=h, params={"per_stage": 1})
    assert response.status_code == 200, response.text
    board = response.json()
    assert [c["stage"]["position"] for c in board["columns"]] == [1, 2, 3, 4]
    column = board["columns"][0]
    assert column["stage"]["id"] == first
    assert column["count"] == 3
    assert [o["name"] for o in column["opportunities"]] == ["B"]  # soonest close first, capped
    # 1000.00 + 333.33 + 10 = 1343.33 at 10 %: 134.333 -> 134.33
    assert column["totals"] == [
        {"currency": "CNY", "count": 3, "amount": "1343.33", "weighted_amount": "134.33"}
    ]
    third_column = board["columns"][2]
    assert third_column["totals"] == [
        {"currency": "CNY", "count": 1, "amount": "50.01", "weighted_amount": "25.01"},  # 25.005 half up
        {"currency": "USD", "count": 1, "amount": "200.00", "weighted_amount": "100.00"},
    ]
    # 134.333 + 25.005 = 159.338 -> 159.34 (weighted exactly, rounded once)
    assert board["totals"] == [
        {"currency": "CNY", "count": 4, "amount": "1393.34", "weighted_amount": "159.34"},
        {"currency": "USD", "count": 1, "amount": "200.00", "weighted_amount": "100.00"},
    ]
    # A rep's board holds their own opportunities only.
    mine = client.get(f"{PIPELINES}/{pipeline['id']}/board", headers=sales["rep"]["headers"]).json()
    assert [o["name"] for c in mine["columns"] for o in c["opportunities"]] == ["Rep deal"]
    assert mine["totals"] == [{"currency": "CNY", "count": 1, "amount": "10.00", "weighted_amount": "1.00"}]
    assert client.get(f"{PIPELINES}/{MISSING}/board", headers=h).status_code == 404
    assert (
        client.get(f"{PIPELINES}/{pipeline['id']}/board", headers=h, params={"per_stage": 0}).status_code
        == 422
    )


# --- scope: every route -------------------------------------------------------------------


def _every_route(url: str, pipeline: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("get", url, None),
        ("patch", url, {"name": "Mine now"}),
        ("post", f"{url}/stage", {"stage_id": _stage(pipeline, 2)}),
        ("post", f"{url}/won", {}),
        ("post", f"{url}/lost", {"reason": "No"}),
        ("post", f"{url}/reopen", {}),
        ("post", f"{url}/transfer", {"to_owner_id": MISSING}),
        ("delete", url, None),
    ]


def test_a_rep_gets_404_on_a_colleagues_opportunity_on_every_route(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings, sales: dict[str, Any]
) -> None:
    # A rep holding every opportunity permission at "own" scope, so no route stops at 403.
    grants = {
        p: "own"
        for p in (
            "opportunities.read",
            "opportunities.create",
            "opportunities.update",
            "opportunities.delete",
            "opportunities.transfer",
            "opportunities.close",
            "opportunities.reopen",
            "customers.read",
            "customers.create",
            "activities.create",
        )
    }
    role = client.post("/api/v1/roles", headers=owner["headers"], json={"name": "Closer", "grants": grants})
    assert role.status_code == 201, role.text
    rep = add_member(client, settings, owner["tenant_id"], "Closer")
    colleague = sales["colleague"]
    pipeline = _pipeline(client, owner["headers"])
    theirs = _opportunity(
        client, colleague["headers"], _create(client, colleague["headers"])["id"], name="Theirs"
    )
    mine = _opportunity(
        client, rep["headers"], _create(client, rep["headers"], name="Mine")["id"], name="Mine"
    )
    assert [o["name"] for o in client.get(API, headers=rep["headers"]).json()["items"]] == ["Mine"]
    for method, path, body in _every_route(f"{API}/{theirs['id']}", pipeline):
        response = client.request(method, path, headers=rep["headers"], json=body)
        assert response.status_code == 404, (method, path, response.text)
    # Nor can they open one on a colleague's customer, or log an activity about theirs.
    refused = client.post(
        API, headers=rep["headers"], json={"name": "X", "customer_id": theirs["customer_id"]}
    )
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (404, "customer_id")
    activity = {"kind": "call", "subject_type": "opportunity", "subject_id": theirs["id"], "subject": "Call"}
    refused = client.post("/api/v1/activities", headers=rep["headers"], json=activity)
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (404, "subject_id")
    # The manager of the colleague's team sees it; a rep of another team does not.
    assert client.get(f"{API}/{theirs['id']}", headers=sales["manager"]["headers"]).status_code == 200
    assert client.get(f"{API}/{theirs['id']}", headers=sales["outsider"]["headers"]).status_code == 404
    unchanged = client.get(f"{API}/{theirs['id']}", headers=colleague["headers"]).json()
    assert (unchanged["name"], unchanged["version"]) == ("Theirs", 1)
    assert mine["owner_id"] == _user_id(client, rep["headers"])


def test_another_tenants_opportunity_is_404_on_every_route(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    pipeline = _pipeline(client, owner["headers"])
    deal = _opportunity(client, owner["headers"], _create(client, owner["headers"])["id"])
    other = signup(client, "Other")
    for method, path, body in [
        *_every_route(f"{API}/{deal['id']}", pipeline),
        ("get", f"{PIPELINES}/{pipeline['id']}/board", None),
    ]:
        response = client.request(method, path, headers=other["headers"], json=body)
        assert response.status_code == 404, (method, path, response.text)
    assert client.get(API, headers=other["headers"]).json()["items"] == []
    refused = client.post(
        API, headers=other["headers"], json={"name": "X", "customer_id": deal["customer_id"]}
    )
    assert refused.status_code == 404


def test_a_manager_transfers_an_opportunity_within_their_team(
    client: TestClient[Any], owner: dict[str, Any], sales: dict[str, Any]
) -> None:
    rep, colleague, manager, outsider = sales["rep"], sales["colleague"], sales["manager"], sales["outsider"]
    deal = _opportunity(client, rep["headers"], _create(client, rep["headers"])["id"])
    url = f"{API}/{deal['id']}/transfer"
    assert (
        client.post(url, headers=rep["headers"], json={"to_owner_id": colleague["user_id"]}).status_code
        == 403
    )
    refused = client.post(url, headers=manager["headers"], json={"to_owner_id": outsider["user_id"]})
    assert (refused.status_code, refused.json()["code"]) == (403, "owner_out_of_scope")
    moved = client.post(url, headers=manager["headers"], json={"to_owner_id": colleague["user_id"]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["owner_id"] == colleague["user_id"]
    assert client.get(f"{API}/{deal['id']}", headers=rep["headers"]).status_code == 404


# --- customers: merge, transfer, deletion; leads; activities ------------------------------


def test_merging_customers_moves_the_opportunities_to_the_survivor(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    h = owner["headers"]
    survivor, merged = _create(client, h), _create(client, h, name="Globex Ltd")
    deal = _opportunity(client, h, merged["id"])
    closed = _opportunity(client, h, merged["id"], name="Old")
    client.post(f"{API}/{closed['id']}/lost", headers=h, json={"reason": "Price"})
    response = client.post(
        f"/api/v1/customers/{survivor['id']}/merge", headers=h, json={"other_id": merged["id"]}
    )
    assert response.status_code == 200, response.text
    for opportunity in (deal, closed):
        shown = client.get(f"{API}/{opportunity['id']}", headers=h).json()
        assert shown["customer_id"] == survivor["id"]
    assert len(client.get(API, headers=h, params={"customer_id": survivor["id"]}).json()["items"]) == 2


def test_transferring_a_leavers_customers_moves_their_open_opportunities_only(
    client: TestClient[Any], owner: dict[str, Any], sales: dict[str, Any]
) -> None:
    leaver, heir, colleague = sales["rep"], sales["colleague"], sales["manager"]
    customer = _create(client, leaver["headers"])
    open_deal = _opportunity(client, leaver["headers"], customer["id"], name="Open")
    won_deal = _opportunity(client, leaver["headers"], customer["id"], name="Won")
    client.post(f"{API}/{won_deal['id']}/won", headers=leaver["headers"], json={})
    # The manager works another deal on the same customer: it stays theirs.
    theirs = _opportunity(client, colleague["headers"], customer["id"], name="Manager's")
    moved = client.post(
        "/api/v1/customers/transfer",
        headers=owner["headers"],
        json={"to_owner_id": heir["user_id"], "from_owner_id": leaver["user_id"]},
    )
    assert moved.status_code == 200, moved.text
    owners = {o["name"]: o["owner_id"] for o in client.get(API, headers=owner["headers"]).json()["items"]}
    assert owners == {"Open": heir["user_id"], "Won": leaver["user_id"], "Manager's": colleague["user_id"]}
    shown = client.get(f"{API}/{open_deal['id']}", headers=heir["headers"])
    assert shown.status_code == 200
    assert len(shown.json()["stage_history"]) == 1  # the history stays
    entries = client.get(
        "/api/v1/audit", headers=owner["headers"], params={"entity_type": "opportunities", "limit": 200}
    ).json()["items"]
    change = next(e for e in entries if e["entity_id"] == open_deal["id"] and e["action"] == "update")
    assert change["changes"]["after"]["owner_id"] == heir["user_id"]
    assert theirs["owner_id"] == colleague["user_id"]


def test_deleting_a_customer_deletes_its_opportunities(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    h = owner["headers"]
    customer, other = _create(client, h), _create(client, h, name="Initech")
    deal = _opportunity(client, h, customer["id"])
    kept = _opportunity(client, h, other["id"])
    assert client.delete(f"/api/v1/customers/{customer['id']}", headers=h).status_code == 204
    assert client.get(f"{API}/{deal['id']}", headers=h).status_code == 404
    assert client.get(f"{API}/{kept['id']}", headers=h).status_code == 200
    assert _count(settings, "opportunity_stage_history") == 1


def test_converting_a_lead_with_an_opportunity_creates_it_in_the_same_transaction(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    h = owner["headers"]
    pipeline = _pipeline(client, h)
    lead = client.post(
        "/api/v1/leads", headers=h, json={"name": "Li Lei", "company": "Globex", "source": "expo"}
    ).json()
    url = f"/api/v1/leads/{lead['id']}/convert"
    # A bad draft refuses the whole conversion: no customer, no contact, the lead unchanged.
    refused = client.post(url, headers=h, json={"opportunity": {"currency": "XYZ"}})
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "currency")
    assert _count(settings, "customers") == 0
    assert client.get(f"/api/v1/leads/{lead['id']}", headers=h).json()["status"] == "new"
    draft = {"amount": "8800", "stage_id": _stage(pipeline, 2), "expected_close_date": "2027-03-31"}
    converted = client.post(url, headers=h, json={"opportunity": draft})
    assert converted.status_code == 200, converted.text
    result = converted.json()
    assert result["opportunity_id"] is not None
    assert result["lead"]["converted_opportunity_id"] == result["opportunity_id"]
    deal = client.get(f"{API}/{result['opportunity_id']}", headers=h).json()
    assert (deal["name"], deal["customer_id"], deal["contact_id"]) == (
        "Globex",
        result["customer_id"],
        result["contact_id"],
    )
    assert (deal["amount"], deal["currency"], deal["stage_id"], deal["source"]) == (
        "8800.00",
        "CNY",
        _stage(pipeline, 2),
        "expo",
    )
    event = next(p for n, p in _events(settings) if n == "leads.converted")
    assert event["opportunity_id"] == result["opportunity_id"]
    plain = client.post("/api/v1/leads", headers=h, json={"name": "Han Meimei"}).json()
    assert (
        client.post(f"/api/v1/leads/{plain['id']}/convert", headers=h, json={}).json()["opportunity_id"]
        is None
    )


def test_activities_can_be_about_an_opportunity(client: TestClient[Any], owner: dict[str, Any]) -> None:
    h = owner["headers"]
    deal = _opportunity(client, h, _create(client, h)["id"])
    body = {
        "kind": "call",
        "subject_type": "opportunity",
        "subject_id": deal["id"],
        "subject": "Pricing call",
    }
    created = client.post("/api/v1/activities", headers=h, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["customer_id"] == deal["customer_id"]
    listed = client.get("/api/v1/activities", headers=h, params={"subject_id": deal["id"]}).json()["items"]
    assert [a["subject"] for a in listed] == ["Pricing call"]


# --- audit --------------------------------------------------------------------------------


def test_opportunity_changes_are_audited(
    client: TestClient[Any], owner: dict[str, Any], sales: dict[str, Any]
) -> None:
    h = owner["headers"]
    pipeline = _pipeline(client, h)
    deal = _opportunity(client, h, _create(client, h)["id"], amount="10")
    url = f"{API}/{deal['id']}"
    client.patch(url, headers=h, json={"amount": "20"})
    client.post(f"{url}/stage", headers=h, json={"stage_id": _stage(pipeline, 2)})
    client.post(f"{url}/won", headers=h, json={})
    client.post(f"{url}/reopen", headers=h, json={})
    client.post(f"{url}/lost", headers=h, json={"reason": "Price"})
    client.post(f"{url}/transfer", headers=h, json={"to_owner_id": sales["rep"]["user_id"]})
    assert client.delete(url, headers=h).status_code == 204
    entries = client.get("/api/v1/audit", headers=h, params={"limit": 200}).json()["items"]
    mine = [e for e in entries if e["entity_type"] == "opportunities" and e["entity_id"] == deal["id"]]
    actions = [e["action"] for e in mine]
    assert actions.count("create") == 1
    assert actions.count("delete") == 1
    afters = [e["changes"]["after"] or {} for e in mine if e["action"] == "update"]
    assert {"amount": "20.00"} in afters
    assert any(a.get("stage_id") == _stage(pipeline, 2) for a in afters)
    assert any(a.get("status") == "won" for a in afters)
    assert any(a.get("status") == "open" for a in afters)
    assert any(a.get("lost_reason") == "Price" for a in afters)
    assert any(a.get("owner_id") == sales["rep"]["user_id"] for a in afters)
    visits = [e for e in entries if e["entity_type"] == "opportunity_stage_history"]
    assert {e["action"] for e in visits} >= {"create", "update"}
    me = client.get("/api/v1/me", headers=h).json()
    assert {e["actor_id"] for e in mine} == {me["user_id"]}


# --- the customer timeline ----------------------------------------------------------------


@pytest.fixture
def worker_client(settings: Settings) -> Iterator[TestClient[Litestar]]:
    """An app running the in-process worker: timeline entries are written by handlers."""
    app = create_app(dataclasses.replace(settings, background_jobs=True))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_opportunity_events_reach_the_customer_timeline(worker_client: TestClient[Any]) -> None:
    client = worker_client
    h = signup(client, "Acme")["headers"]
    pipeline = _pipeline(client, h)
    customer = _create(client, h)
    deal = _opportunity(client, h, customer["id"])
    url = f"{API}/{deal['id']}"
    client.post(f"{url}/stage", headers=h, json={"stage_id": _stage(pipeline, 2)})
    client.post(f"{url}/won", headers=h, json={})
    client.post(f"{url}/reopen", headers=h, json={})
    client.post(f"{url}/lost", headers=h, json={"reason": "Price"})
    app: Any = client.app
    client.blocking_portal.call(app.state.jobs.drain)
    items = client.get(f"/api/v1/customers/{customer['id']}/timeline", headers=h).json()["items"]
    about = [i["entry"] for i in items if i["type"] == "event" and i["entry"]["ref_type"] == "opportunity"]
    assert [e["event"] for e in about] == [
        "opportunities.lost",
        "opportunities.reopened",
        "opportunities.won",
        "opportunities.stage_changed",
        "opportunities.created",
    ]
    assert {e["ref_id"] for e in about} == {deal["id"]}
    assert "Price" not in str(about)  # the lost reason stays out of the events
