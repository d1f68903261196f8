"""Activities and tasks through the API: logging, tasks (complete, reopen, cancel), filters,
the subject check, ``last_contacted_at``, scope (owner or assignee), another tenant's 404,
ETags, events, encryption and audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from core.activities.permissions import PERMISSIONS
from core.kernel.settings import Settings
from tests.frontend_api import test_customers as customer_tests
from tests.frontend_api.test_customers import _create, _events, _raw, _user_id
from tests.helpers import add_member, signup

# The customers tests' fixtures: the owner of a business, and a sales team.
owner = customer_tests.owner
sales = customer_tests.sales

API = "/api/v1/activities"
CUSTOMERS = "/api/v1/customers"


def _at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def _log(client: TestClient[Any], headers: dict[str, str], subject_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "kind": "call",
        "subject_type": "customer",
        "subject_id": subject_id,
        "subject": "Intro call",
        **fields,
    }
    response = client.post(API, headers=headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _task(client: TestClient[Any], headers: dict[str, str], subject_id: str, **fields: Any) -> dict[str, Any]:
    return _log(client, headers, subject_id, kind="task", subject="Send the quote", **fields)


def test_a_call_is_logged_read_changed_and_deleted(client: TestClient[Any], owner: dict[str, Any]) -> None:
    headers = owner["headers"]
    customer = _create(client, headers)
    created = _log(
        client, headers, customer["id"], body="Wants 40 seats", duration_minutes=15, outcome="interested"
    )
    assert created["customer_id"] == customer["id"]
    assert created["owner_id"] == _user_id(client, headers)
    assert created["status"] is None
    assert created["overdue"] is False
    url = f"{API}/{created['id']}"
    shown = client.get(url, headers=headers)
    assert shown.status_code == 200
    assert shown.headers["etag"] == '"1"'
    assert shown.json()["body"] == "Wants 40 seats"
    changed = client.patch(url, headers=headers, json={"outcome": "won over"}, params={})
    assert changed.status_code == 200, changed.text
    assert changed.json()["outcome"] == "won over"
    assert changed.json()["version"] == 2
    assert client.delete(url, headers={**headers, "If-Match": '"2"'}).status_code == 204
    assert client.get(url, headers=headers).status_code == 404


def test_logging_a_contact_moves_last_contacted_at_forward_only(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    headers = owner["headers"]
    customer = _create(client, headers, contacts=[{"name": "Ann"}])
    contact_id = customer["contacts"][0]["id"]
    recent = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    via_contact = _log(client, headers, contact_id, subject_type="contact", occurred_at=recent.isoformat())
    assert via_contact["customer_id"] == customer["id"]
    url = f"{CUSTOMERS}/{customer['id']}"
    assert client.get(url, headers=headers).json()["last_contacted_at"] == "2026-11-20T09:00:00Z"
    _log(client, headers, customer["id"], occurred_at="2026-11-01T09:00:00+00:00")  # older: no change
    _log(client, headers, customer["id"], kind="note", occurred_at="2026-11-22T09:00:00+00:00")  # a note
    _task(client, headers, customer["id"], due_at=_at(24))  # a task is not a contact
    after = client.get(url, headers=headers).json()
    assert after["last_contacted_at"] == "2026-11-20T09:00:00Z"
    # The version moved with it, so a client's stale copy is refused.
    assert after["version"] == 2
    _log(client, headers, customer["id"], kind="visit", occurred_at="2026-11-21T09:00:00+00:00")
    assert client.get(url, headers=headers).json()["last_contacted_at"] == "2026-11-21T09:00:00Z"


def test_a_task_is_assigned_reminded_completed_and_reopened(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    headers = owner["headers"]
    me = _user_id(client, headers)
    customer = _create(client, headers)
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    task = _task(
        client, headers, customer["id"], due_at=due.isoformat(), remind_minutes_before=30, priority="high"
    )
    assert task["assignee_id"] == me
    assert task["status"] == "open"
    assert task["priority"] == "high"
    assert datetime.fromisoformat(task["remind_at"]) == due - timedelta(minutes=30)
    url = f"{API}/{task['id']}"
    done = client.post(f"{url}/complete", headers={**headers, "If-Match": '"1"'})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done"
    assert done.json()["completed_at"]
    again = client.post(f"{url}/complete", headers=headers)
    assert again.status_code == 409
    assert again.json()["code"] == "task_not_open"
    reopened = client.post(f"{url}/reopen", headers=headers)
    assert reopened.status_code == 200
    assert reopened.json()["status"] == "open"
    assert reopened.json()["completed_at"] is None
    cancelled = client.patch(url, headers=headers, json={"status": "cancelled"})
    assert cancelled.json()["status"] == "cancelled"
    completed = [p for n, p in _events(settings) if n == "activities.task_completed"]
    assert completed == [
        {"activity_id": task["id"], "customer_id": customer["id"], "assignee_id": me, "completed_by": me}
    ]
    call = _log(client, headers, customer["id"])
    assert client.post(f"{API}/{call['id']}/complete", headers=headers).json()["code"] == "not_a_task"


def test_moving_a_tasks_due_time_arms_its_reminder_again(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    headers = owner["headers"]
    customer = _create(client, headers)
    task = _task(client, headers, customer["id"], due_at=_at(2), remind_at=_at(1))
    url = f"{API}/{task['id']}"
    moved = client.patch(url, headers=headers, json={"due_at": _at(5), "remind_minutes_before": 60})
    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["remind_at"]) > datetime.now(UTC) + timedelta(hours=3.9)
    assert moved.json()["reminded_at"] is None


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"subject_type": "planet"}, "subject_type", 422),
        ({"kind": "party"}, "kind", 422),
        ({"subject": "   "}, "subject", 422),
        ({"due_at": "2030-01-01T00:00:00+00:00"}, "due_at", 422),
        ({"kind": "task", "occurred_at": "2030-01-01T00:00:00+00:00"}, "occurred_at", 422),
        ({"kind": "task", "priority": "urgent"}, "priority", 422),
        ({"kind": "task", "remind_minutes_before": 10}, "due_at", 422),
        ({"subject_id": "01234567-89ab-7def-8123-456789abcdef"}, "subject_id", 404),
    ],
)
def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(
    client: TestClient[Any],
    owner: dict[str, Any],
    settings: Settings,
    body: dict[str, Any],
    field: str,
    status: int,
) -> None:
    headers = owner["headers"]
    customer = _create(client, headers)
    request = {
        "kind": "call",
        "subject_type": "customer",
        "subject_id": customer["id"],
        "subject": "S",
        **body,
    }
    response = client.post(API, headers=headers, json=request)
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["field"] == field
    assert _raw(settings, "SELECT id FROM activities") == []


def test_lists_filter_by_kind_subject_customer_status_due_overdue_and_mine(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    headers = owner["headers"]
    me = _user_id(client, headers)
    colleague = add_member(client, settings, owner["tenant_id"], "sales_rep")
    colleague_id = _user_id(client, colleague["headers"])
    a = _create(client, headers, name="A")
    b = _create(client, headers, name="B")
    call = _log(client, headers, a["id"])
    late = _task(client, headers, a["id"], due_at=_at(-2))
    soon = _task(client, headers, b["id"], due_at=_at(3), assignee_id=colleague_id)
    client.post(f"{API}/{soon['id']}/complete", headers=headers)

    def ids(**params: Any) -> set[str]:
        response = client.get(API, headers=headers, params=params)
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert ids() == {call["id"], late["id"], soon["id"]}
    assert ids(kind="task") == {late["id"], soon["id"]}
    assert ids(customer_id=b["id"]) == {soon["id"]}
    assert ids(subject_type="customer", subject_id=a["id"]) == {call["id"], late["id"]}
    assert ids(status="open") == {late["id"]}
    assert ids(overdue="true") == {late["id"]}
    assert ids(assignee_id=colleague_id) == {soon["id"]}
    assert ids(owner_id=me, kind="task") == {late["id"], soon["id"]}
    assert ids(due_from=_at(0), due_to=_at(10)) == {soon["id"]}
    assert ids(mine="true") == {call["id"], late["id"], soon["id"]}
    late_view = client.get(f"{API}/{late['id']}", headers=headers).json()
    assert late_view["overdue"] is True
    # The colleague sees the task assigned to them (and only that), and finds it under "mine".
    theirs = client.get(API, headers=colleague["headers"], params={"mine": "true"}).json()["items"]
    assert [item["id"] for item in theirs] == [soon["id"]]
    page = client.get(API, headers=headers, params={"limit": 2, "sort": "-occurred_at"}).json()
    assert len(page["items"]) == 2
    assert page["next_cursor"]


def test_a_rep_gets_404_on_a_colleagues_customer_and_activities_through_every_route(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings, sales: dict[str, Any]
) -> None:
    # A rep holding every activity permission (and customer reads) at "own" scope.
    grants = {p.name: "own" for p in PERMISSIONS} | {"customers.read": "own"}
    role = client.post("/api/v1/roles", headers=owner["headers"], json={"name": "Logger", "grants": grants})
    assert role.status_code == 201, role.text
    rep = add_member(client, settings, owner["tenant_id"], "Logger")
    colleague = sales["colleague"]
    theirs = _create(client, colleague["headers"], name="Theirs", contacts=[{"name": "C"}])
    contact_id = theirs["contacts"][0]["id"]
    activity = _task(client, colleague["headers"], theirs["id"])
    h = rep["headers"]
    for subject_type, subject_id in (("customer", theirs["id"]), ("contact", contact_id)):
        refused = client.post(
            API,
            headers=h,
            json={"kind": "call", "subject_type": subject_type, "subject_id": subject_id, "subject": "S"},
        )
        assert refused.status_code == 404, refused.text
        assert refused.json()["errors"][0]["field"] == "subject_id"
    assert client.get(API, headers=h).json()["items"] == []
    assert client.get(API, headers=h, params={"customer_id": theirs["id"]}).json()["items"] == []
    url = f"{API}/{activity['id']}"
    for method, path, body in (
        ("get", url, None),
        ("patch", url, {"subject": "X"}),
        ("delete", url, None),
        ("post", f"{url}/complete", None),
        ("post", f"{url}/reopen", None),
        ("get", f"{CUSTOMERS}/{theirs['id']}/timeline", None),
    ):
        response = client.request(method, path, headers=h, json=body)
        assert response.status_code == 404, (method, path, response.text)
    # A rep cannot hand a task to a colleague.
    own = _create(client, sales["rep"]["headers"], name="Own")
    gift = client.post(
        API,
        headers=sales["rep"]["headers"],
        json={
            "kind": "task",
            "subject_type": "customer",
            "subject_id": own["id"],
            "subject": "S",
            "assignee_id": colleague["user_id"],
        },
    )
    assert gift.status_code == 403
    assert gift.json()["errors"][0]["field"] == "assignee_id"
    assert client.get(url, headers=colleague["headers"]).json()["subject"] == "Send the quote"


def test_a_manager_sees_the_teams_activities_and_a_support_agent_logs_calls(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings, sales: dict[str, Any]
) -> None:
    manager, rep, outsider = sales["manager"], sales["rep"], sales["outsider"]
    customer = _create(client, rep["headers"], name="Rep's")
    elsewhere = _create(client, outsider["headers"], name="Outsider's")
    by_rep = _log(client, rep["headers"], customer["id"])
    by_outsider = _log(client, outsider["headers"], elsewhere["id"])
    listed = {a["id"] for a in client.get(API, headers=manager["headers"]).json()["items"]}
    assert by_rep["id"] in listed
    assert by_outsider["id"] not in listed
    assert client.get(f"{API}/{by_outsider['id']}", headers=manager["headers"]).status_code == 404
    # A manager may assign a task to a rep of the team, who then sees it.
    task = _task(client, manager["headers"], customer["id"], assignee_id=rep["user_id"])
    assert client.get(f"{API}/{task['id']}", headers=rep["headers"]).status_code == 200
    support = add_member(client, settings, owner["tenant_id"], "support_agent")
    call = _log(client, support["headers"], elsewhere["id"], subject="Complaint")
    assert [a["id"] for a in client.get(API, headers=support["headers"]).json()["items"]] == [call["id"]]
    assert client.patch(f"{API}/{call['id']}", headers=support["headers"], json={}).status_code == 403


def test_another_tenants_activity_is_a_404(client: TestClient[Any], owner: dict[str, Any]) -> None:
    customer = _create(client, owner["headers"])
    activity = _task(client, owner["headers"], customer["id"])
    other = signup(client, "Other")
    url = f"{API}/{activity['id']}"
    missing = f"{API}/01234567-89ab-7def-8123-456789abcdef"
    for method, suffix in (
        ("get", ""),
        ("patch", ""),
        ("delete", ""),
        ("post", "/complete"),
        ("post", "/reopen"),
    ):
        foreign = client.request(method, url + suffix, headers=other["headers"], json={})
        absent = client.request(method, missing + suffix, headers=other["headers"], json={})
        assert foreign.status_code == 404, (method, suffix)
        assert {k: v for k, v in foreign.json().items() if k != "request_id"} == {
            k: v for k, v in absent.json().items() if k != "request_id"
        }
    assert client.get(API, headers=other["headers"]).json()["items"] == []
    refused = _log_refused(client, other["headers"], customer["id"])
    assert refused == 404


def _log_refused(client: TestClient[Any], headers: dict[str, str], subject_id: str) -> int:
    body = {"kind": "call", "subject_type": "customer", "subject_id": subject_id, "subject": "S"}
    return client.post(API, headers=headers, json=body).status_code


def test_a_stale_if_match_is_refused_and_changes_nothing(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    headers = owner["headers"]
    task = _task(client, headers, _create(client, headers)["id"])
    url = f"{API}/{task['id']}"
    assert client.patch(url, headers=headers, json={"subject": "New"}).status_code == 200
    for method, path, body in (("patch", url, {"subject": "Stale"}), ("post", f"{url}/complete", None)):
        stale = client.request(method, path, headers={**headers, "If-Match": '"1"'}, json=body)
        assert stale.status_code == 412, stale.text
    assert client.get(url, headers=headers).json()["subject"] == "New"


def test_notes_are_encrypted_at_rest_and_events_carry_ids_only(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    headers = owner["headers"]
    customer = _create(client, headers)
    activity = _log(client, headers, customer["id"], subject="Call Li Lei", body="Li Lei: 13800138000")
    [row] = _raw(settings, "SELECT body FROM activities")
    assert b"13800138000" not in bytes(row.body)
    created = [p for n, p in _events(settings) if n == "activities.created"]
    assert created == [
        {
            "activity_id": activity["id"],
            "kind": "call",
            "subject_type": "customer",
            "subject_id": customer["id"],
            "customer_id": customer["id"],
            "owner_id": activity["owner_id"],
        }
    ]


def test_activity_changes_are_audited_with_notes_redacted(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    headers = owner["headers"]
    customer = _create(client, headers)
    task = _task(client, headers, customer["id"], body="secret plan 13800138000")
    url = f"{API}/{task['id']}"
    client.patch(url, headers=headers, json={"priority": "low"})
    client.post(f"{url}/complete", headers=headers)
    client.post(f"{url}/reopen", headers=headers)
    client.delete(url, headers=headers)
    entries = client.get("/api/v1/audit", headers=headers, params={"limit": "200"}).json()["items"]
    actions = {
        e["action"] for e in entries if e["entity_type"] == "activities" and e["entity_id"] == task["id"]
    }
    assert {"create", "update", "delete"} <= actions
    assert "13800138000" not in repr(entries)
    assert "Send the quote" not in repr(entries)


def test_moving_an_activity_to_another_subject_follows_its_customer(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    headers = owner["headers"]
    first = _create(client, headers, name="First")
    second = _create(client, headers, name="Second", contacts=[{"name": "Ann"}])
    note = _log(client, headers, first["id"], kind="note")
    url = f"{API}/{note['id']}"
    moved = client.patch(
        url, headers=headers, json={"subject_type": "contact", "subject_id": second["contacts"][0]["id"]}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["customer_id"] == second["id"]
    unknown = client.patch(url, headers=headers, json={"subject_type": "planet"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "subject_type"


def test_a_leavers_transfer_moves_their_work_on_the_transferred_customers_in_the_same_step(
    client: TestClient[Any], owner: dict[str, Any], sales: dict[str, Any]
) -> None:
    leaver, heir = sales["rep"], sales["colleague"]
    vip = _create(client, leaver["headers"], level="A")
    small = _create(client, leaver["headers"], name="Initech", level="C")
    call = _log(client, leaver["headers"], vip["id"])
    open_task = _task(client, leaver["headers"], vip["id"], due_at=_at(24))
    done_task = _task(client, leaver["headers"], vip["id"], due_at=_at(1))
    completed = client.post(f"{API}/{done_task['id']}/complete", headers=leaver["headers"])
    assert completed.status_code == 200, completed.text
    elsewhere = _task(client, leaver["headers"], small["id"], due_at=_at(24))
    # Only the A-level customers change hands (a filtered transfer).
    moved = client.post(
        f"{CUSTOMERS}/transfer",
        headers=owner["headers"],
        json={"from_owner_id": leaver["user_id"], "to_owner_id": heir["user_id"], "level": "A"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["transferred"] == [vip["id"]]

    def shown(activity: dict[str, Any]) -> dict[str, Any]:
        response = client.get(f"{API}/{activity['id']}", headers=owner["headers"])
        assert response.status_code == 200, response.text
        return dict(response.json())

    assert shown(call)["owner_id"] == heir["user_id"]
    assert shown(open_task)["assignee_id"] == heir["user_id"]
    assert shown(done_task)["assignee_id"] == leaver["user_id"]  # who did it stays on record
    assert shown(elsewhere)["assignee_id"] == leaver["user_id"]  # its customer stayed
    # The heir now sees the open task; the leaver no longer does.
    assert client.get(f"{API}/{open_task['id']}", headers=heir["headers"]).status_code == 200
    assert client.get(f"{API}/{open_task['id']}", headers=leaver["headers"]).status_code == 404
