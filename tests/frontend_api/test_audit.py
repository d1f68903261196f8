"""The audit trail as a user of the API sees it: every change through any route leaves an
entry with the right actor and diff, sign-ins, role changes, API-key use and denials are
recorded, secrets never appear, and the log can be listed, filtered and exported."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from typing import Any
from urllib.parse import unquote

import pyotp
from litestar import Litestar
from litestar.testing import TestClient

from core.kernel.settings import Settings
from frontend_api.app import create_app
from tests.helpers import (
    PASSWORD,
    add_member,
    bearer,
    login,
    platform_admin,
    sent_mail,
    signup,
    unique_email,
)

AUDIT = "/api/v1/audit"


def _entries(client: TestClient[Any], headers: dict[str, str], **filters: str) -> list[dict[str, Any]]:
    """Every entry matching ``filters``, following the cursor."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {**filters, "limit": "200", **({"cursor": cursor} if cursor else {})}
        response = client.get(AUDIT, params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        found.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def _me(client: TestClient[Any], who: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/api/v1/me", headers=who["headers"]).json()
    return body


def _one(entries: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    hits = [e for e in entries if all(e.get(k) == v for k, v in match.items())]
    assert len(hits) == 1, (match, [(e["action"], e["entity_type"], e["entity_id"]) for e in entries])
    return hits[0]


def _role_id(client: TestClient[Any], who: dict[str, Any], name: str) -> str:
    roles = client.get("/api/v1/roles?limit=200", headers=who["headers"]).json()["items"]
    return str(next(r["id"] for r in roles if r["name"] == name))


def test_signup_records_the_tenant_owner_and_roles_without_the_password(client: TestClient[Any]) -> None:
    owner = signup(client, "Acme")
    entries = _entries(client, owner["headers"])
    tenant = _one(entries, entity_type="tenants", action="create")
    assert tenant["entity_id"] == owner["tenant_id"]
    assert tenant["changes"]["after"]["name"] == "Acme"
    assert tenant["actor_type"] == "anonymous"
    account = _one(entries, entity_type="users", action="create")
    assert account["changes"]["after"]["email"] == owner["email"]
    assert account["changes"]["after"]["password_hash"] == "[redacted]"
    assert {e["changes"]["after"]["name"] for e in entries if e["entity_type"] == "roles"} >= {
        "owner",
        "viewer",
    }
    assigned = _one(entries, action="member.role_assigned")
    assert assigned["changes"]["role_name"] == "owner"
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert "argon2" not in json.dumps(entries)


def test_every_mutating_route_leaves_an_entry_with_the_actor_and_the_diff(
    app: Litestar, client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client, "Acme")
    me = _me(client, owner)
    headers = owner["headers"]
    actor = {"actor_type": "user", "actor_id": me["user_id"]}

    role = client.post("/api/v1/roles", headers=headers, json={"name": "Clerk", "grants": {}}).json()
    client.patch(f"/api/v1/roles/{role['id']}", headers=headers, json={"name": "Senior clerk"})
    team = client.post("/api/v1/teams", headers=headers, json={"name": "North"}).json()
    client.patch(f"/api/v1/teams/{team['id']}", headers=headers, json={"name": "North-East"})
    member = add_member(client, settings, owner["tenant_id"], "viewer")
    moved = client.patch(
        f"/api/v1/members/{member['member_id']}",
        headers=headers,
        json={"team_id": team["id"], "roles": [role["id"]]},
    )
    assert moved.status_code == 200, moved.text
    client.delete(f"/api/v1/teams/{team['id']}", headers=headers)
    removed = client.delete(f"/api/v1/members/{member['member_id']}", headers=headers)
    assert removed.status_code == 204, removed.text
    key = client.post(
        "/api/v1/api-keys", headers=headers, json={"name": "Sync", "grants": {"roles.read": "all"}}
    ).json()
    client.delete(f"/api/v1/api-keys/{key['id']}", headers=headers)
    invited = client.post(
        "/api/v1/invitations",
        headers=headers,
        json={"email": unique_email("invitee"), "role_id": _role_id(client, owner, "viewer")},
    ).json()
    client.delete(f"/api/v1/invitations/{invited['id']}", headers=headers)
    client.patch("/api/v1/tenant", headers=headers, json={"name": "Acme Trading"})
    setup = client.post("/api/v1/me/2fa/setup", headers=headers).json()
    enabled = client.post(
        "/api/v1/me/2fa/enable", headers=headers, json={"code": pyotp.TOTP(setup["secret"]).now()}
    )
    assert enabled.status_code == 200, enabled.text
    disabled = client.post(
        "/api/v1/me/2fa/disable",
        headers=headers,
        json={"password": PASSWORD, "code": pyotp.TOTP(setup["secret"]).now()},
    )
    assert disabled.status_code in (200, 204), disabled.text
    spare = client.post("/api/v1/roles", headers=headers, json={"name": "Spare", "grants": {}}).json()
    assert client.delete(f"/api/v1/roles/{spare['id']}", headers=headers).status_code == 204

    entries = _entries(client, headers)
    by_owner = [e for e in entries if e["actor_id"] == me["user_id"]]

    def change(entity_type: str, action: str, entity_id: str) -> dict[str, Any]:
        """The change one request made (one entry per flush, so merged)."""
        hits = [
            e
            for e in by_owner
            if (e["entity_type"], e["action"], e["entity_id"]) == (entity_type, action, entity_id)
        ]
        assert hits, (entity_type, action, entity_id)
        assert len({e["request_id"] for e in hits}) == 1
        merged: dict[str, Any] = {"before": None, "after": None}
        for entry in hits:
            assert {k: entry[k] for k in actor} == actor
            assert entry["ip"] == "testclient"
            assert entry["request_id"]
            for side in ("before", "after"):
                if entry["changes"][side] is not None:
                    merged[side] = {**(merged[side] or {}), **entry["changes"][side]}
        return merged

    assert change("roles", "create", role["id"])["after"]["name"] == "Clerk"
    renamed = change("roles", "update", role["id"])
    assert renamed["before"]["name"] == "Clerk"
    assert renamed["after"]["name"] == "Senior clerk"
    assert change("teams", "create", team["id"])["after"]["name"] == "North"
    assert change("teams", "update", team["id"])["after"] == {"name": "North-East"}
    assert change("teams", "delete", team["id"])["before"]["name"] == "North-East"
    member_changes = [
        e["changes"]
        for e in by_owner
        if e["entity_type"] == "memberships"
        and e["entity_id"] == member["member_id"]
        and e["action"] == "update"
    ]
    assert {"before": {"team_id": None}, "after": {"team_id": team["id"]}} in member_changes
    assert {"before": {"team_id": team["id"]}, "after": {"team_id": None}} in member_changes
    assert {"before": {"is_active": True}, "after": {"is_active": False}} in member_changes
    assert change("api_keys", "create", key["id"])["after"]["secret_hash"] == "[redacted]"
    assert change("api_keys", "update", key["id"])["after"]["revoked_at"] is not None
    assert change("invitations", "create", invited["id"])["after"]["secret_hash"] == "[redacted]"
    assert change("invitations", "update", invited["id"])["after"]["revoked_at"] is not None
    assert change("tenants", "update", owner["tenant_id"]) == {  # exactly what changed
        "before": {"name": "Acme"},
        "after": {"name": "Acme Trading"},
    }
    two_factor = [e["changes"] for e in by_owner if e["entity_type"] == "users" and e["action"] == "update"]
    assert {"before": {"totp_enabled": False}, "after": {"totp_enabled": True}} in two_factor
    assert any(c["after"].get("totp_enabled") is False for c in two_factor)
    assert change("roles", "delete", spare["id"])["before"]["name"] == "Spare"
    assert any(c["after"].get("totp_secret") == "[redacted]" for c in two_factor)

    dumped = json.dumps(entries)
    assert key["key"] not in dumped
    assert key["key"].split("_", 3)[3] not in dumped
    assert setup["secret"] not in dumped
    assert PASSWORD not in dumped
    assert "$argon2" not in dumped


def test_a_member_setting_their_phone_is_recorded_with_the_number_redacted(client: TestClient[Any]) -> None:
    owner = signup(client, "Acme")
    me = _me(client, owner)
    changed = client.patch("/api/v1/me", headers=owner["headers"], json={"phone": "138 0013 8000"})
    assert changed.status_code == 200, changed.text

    entries = _entries(client, owner["headers"])
    entry = _one(entries, entity_type="memberships", action="update", entity_id=me["membership_id"])
    assert entry["actor_id"] == me["user_id"]
    assert entry["changes"] == {"before": {"phone": None}, "after": {"phone": "[redacted]"}}
    assert "13800138000" not in json.dumps(entries)


def test_accepting_an_invitation_is_audited_without_its_token(settings: Settings) -> None:
    # The invitation mail is sent by a job: this app runs the in-process worker.
    with TestClient(create_app(dataclasses.replace(settings, background_jobs=True))) as client:
        _accept_an_invitation_and_check_its_audit(client)


def _accept_an_invitation_and_check_its_audit(client: TestClient[Any]) -> None:
    owner = signup(client, "Acme")
    email = unique_email("invitee")
    invited = client.post(
        "/api/v1/invitations",
        headers=owner["headers"],
        json={"email": email, "role_id": _role_id(client, owner, "viewer")},
    ).json()
    message = sent_mail(client)[-1]
    match = re.search(r"/accept-invitation\?token=(\S+)", message.body)
    assert match
    token = unquote(match.group(1))
    accepted = client.post(
        "/api/v1/invitations/accept", json={"token": token, "full_name": "New One", "password": PASSWORD}
    )
    assert accepted.status_code == 201, accepted.text
    entries = _entries(client, owner["headers"])
    claim = _one(entries, entity_type="invitations", action="update", entity_id=invited["id"])
    assert claim["changes"]["after"]["accepted_at"]
    joined = [e for e in entries if e["entity_type"] == "users" and e["changes"]["after"]["email"] == email]
    assert len(joined) == 1
    assert token not in json.dumps(entries)
    assert token.split(".")[-1] not in json.dumps(entries)


def test_sign_ins_and_failed_sign_ins_are_recorded_without_telling_the_caller(
    client: TestClient[Any],
) -> None:
    owner = signup(client, "Acme")
    user_id = _me(client, owner)["user_id"]
    signed = client.post(
        "/api/v1/auth/token",
        json={"email": owner["email"], "password": PASSWORD},
        headers={"User-Agent": "audit-test/1.0"},
    )
    assert signed.status_code == 201, signed.text
    wrong = login(client, owner["email"], "not the password at all")
    unknown = login(client, unique_email("nobody"), "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert {k: v for k, v in wrong.json().items() if k != "request_id"} == {
        k: v for k, v in unknown.json().items() if k != "request_id"
    }
    entries = _entries(client, owner["headers"])
    signed_in = _one(entries, action="auth.login")
    assert signed_in["actor_type"] == "user"
    assert signed_in["actor_id"] == user_id
    assert signed_in["ip"] == "testclient"
    assert signed_in["user_agent"] == "audit-test/1.0"
    failed = _one(entries, action="auth.login_failed")
    assert failed["actor_id"] == user_id
    assert "not the password" not in json.dumps(entries)


def test_role_grant_edits_and_role_assignments_are_explicit_entries(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client, "Acme")
    role = client.post(
        "/api/v1/roles", headers=owner["headers"], json={"name": "Clerk", "grants": {"roles.read": "all"}}
    ).json()
    edited = client.patch(
        f"/api/v1/roles/{role['id']}", headers=owner["headers"], json={"grants": {"teams.read": "all"}}
    )
    assert edited.status_code == 200, edited.text
    member = add_member(client, settings, owner["tenant_id"], "viewer")
    client.patch(
        f"/api/v1/members/{member['member_id']}", headers=owner["headers"], json={"roles": [role["id"]]}
    )
    entries = _entries(client, owner["headers"])
    grants = _one(entries, action="role.grants_changed", entity_id=role["id"])
    assert grants["changes"]["before"] == {"roles.read": "all"}
    assert grants["changes"]["after"] == {"teams.read": "all"}
    for_member = [e for e in entries if e["entity_id"] == member["member_id"]]
    assert (
        _one(for_member, action="member.role_assigned", actor_type="user")["changes"]["role_name"] == "Clerk"
    )
    assert _one(for_member, action="member.role_unassigned")["changes"]["role_name"] == "viewer"
    # the operator added the member: the system, through the CLI path
    assert (
        _one(for_member, action="member.role_assigned", actor_type="system")["changes"]["role_name"]
        == "viewer"
    )


def test_a_request_with_an_api_key_is_recorded_as_the_key(client: TestClient[Any]) -> None:
    owner = signup(client, "Acme")
    key = client.post(
        "/api/v1/api-keys", headers=owner["headers"], json={"name": "Sync", "grants": {"roles.read": "all"}}
    ).json()
    assert client.get("/api/v1/roles", headers=bearer(key["key"])).status_code == 200
    used = _one(_entries(client, owner["headers"], action="api_key.used"), entity_id=key["id"])
    assert used["actor_type"] == "api_key"
    assert used["actor_id"] == key["id"]


def test_a_permission_denial_is_recorded_though_the_request_fails(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client, "Acme")
    viewer = add_member(client, settings, owner["tenant_id"], "viewer")
    denied = client.post("/api/v1/roles", headers=viewer["headers"], json={"name": "Sneaky", "grants": {}})
    assert denied.status_code == 403
    entry = _one(_entries(client, owner["headers"]), action="permission.denied")
    assert entry["actor_id"] == _me(client, viewer)["user_id"]
    assert entry["changes"] == {
        "code": "permission_denied",
        "permission": "roles.manage",
        "method": "POST",
        "path": "/api/v1/roles",
    }
    assert entry["request_id"] == denied.headers["x-request-id"]


def test_an_api_key_refused_on_a_person_only_route_is_a_denial(client: TestClient[Any]) -> None:
    owner = signup(client, "Acme")
    key = client.post(
        "/api/v1/api-keys", headers=owner["headers"], json={"name": "Sync", "grants": {"roles.read": "all"}}
    ).json()
    assert client.get("/api/v1/me", headers=bearer(key["key"])).json()["code"] == "not_a_person"
    entry = _one(_entries(client, owner["headers"]), action="permission.denied")
    assert (entry["actor_type"], entry["actor_id"]) == ("api_key", key["id"])
    assert entry["changes"]["code"] == "not_a_person"


def test_a_platform_admin_suspending_a_tenant_is_in_that_tenants_log(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client, "Acme")
    admin = platform_admin(client, settings)
    suspended = client.post(
        f"/api/platform/tenants/{owner['tenant_id']}/suspend", headers=admin, json={"reason": "unpaid"}
    )
    assert suspended.status_code == 200, suspended.text
    entry = _one(_entries(client, owner["headers"], entity_type="tenants", action="update"))
    assert entry["actor_type"] == "platform_admin"
    assert entry["changes"]["after"] == {"status": "suspended", "status_reason": "unpaid"}


def test_reading_the_log_needs_audit_read_which_admins_hold(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client, "Acme")
    viewer = add_member(client, settings, owner["tenant_id"], "viewer")
    admin = add_member(client, settings, owner["tenant_id"], "admin")
    assert client.get(AUDIT, headers=viewer["headers"]).json()["code"] == "permission_denied"
    assert client.get(f"{AUDIT}/export", headers=viewer["headers"]).status_code == 403
    assert client.get(AUDIT, headers=admin["headers"]).status_code == 200


def test_each_tenant_sees_only_its_own_log(client: TestClient[Any]) -> None:
    a = signup(client, "Alpha")
    b = signup(client, "Beta")
    client.post("/api/v1/teams", headers=a["headers"], json={"name": "Alpha team"})
    b_entries = _entries(client, b["headers"])
    assert "Alpha" not in json.dumps(b_entries)
    assert {e["entity_id"] for e in b_entries if e["entity_type"] == "tenants"} == {b["tenant_id"]}


def test_the_list_filters_and_pages(client: TestClient[Any]) -> None:
    owner = signup(client, "Acme")
    user_id = _me(client, owner)["user_id"]
    teams = [
        client.post("/api/v1/teams", headers=owner["headers"], json={"name": f"Team {i}"}).json()
        for i in range(3)
    ]
    everything = _entries(client, owner["headers"])
    assert [e["entity_id"] for e in _entries(client, owner["headers"], entity_type="teams")] == [
        t["id"] for t in teams
    ]
    assert len(_entries(client, owner["headers"], entity_id=teams[1]["id"])) == 1
    assert {e["actor_id"] for e in _entries(client, owner["headers"], actor=user_id)} == {user_id}
    assert {e["action"] for e in _entries(client, owner["headers"], action="create", actor_type="user")} == {
        "create"
    }
    middle = everything[len(everything) // 2]["occurred_at"]
    before = _entries(client, owner["headers"], until=middle)
    after = _entries(client, owner["headers"], since=middle)
    assert len(before) + len(after) == len(everything)
    first = client.get(AUDIT, params={"limit": "2", "sort": "-seq"}, headers=owner["headers"]).json()
    assert [e["seq"] for e in first["items"]] == [len(everything), len(everything) - 1]
    second = client.get(
        AUDIT, params={"limit": "2", "sort": "-seq", "cursor": first["next_cursor"]}, headers=owner["headers"]
    ).json()
    assert [e["seq"] for e in second["items"]] == [len(everything) - 2, len(everything) - 3]
    bad = client.get(AUDIT, params={"since": "yesterday"}, headers=owner["headers"])
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "since"


def test_export_streams_csv_and_json_lines_with_the_same_filters(client: TestClient[Any]) -> None:
    owner = signup(client, "Acme")
    for i in range(3):
        client.post("/api/v1/teams", headers=owner["headers"], json={"name": f"Team {i}"})
    listed = _entries(client, owner["headers"], entity_type="teams")

    jsonl = client.get(
        f"{AUDIT}/export", params={"format": "jsonl", "entity_type": "teams"}, headers=owner["headers"]
    )
    assert jsonl.status_code == 200, jsonl.text
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in jsonl.headers["content-disposition"]
    assert [json.loads(line) for line in jsonl.text.splitlines()] == listed

    exported = client.get(f"{AUDIT}/export", params={"entity_type": "teams"}, headers=owner["headers"])
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["id"] for r in rows] == [e["id"] for e in listed]
    assert [json.loads(r["changes"]) for r in rows] == [e["changes"] for e in listed]
    everything = client.get(f"{AUDIT}/export", params={"format": "jsonl"}, headers=owner["headers"])
    assert len(everything.text.splitlines()) == len(_entries(client, owner["headers"]))

    bad = client.get(f"{AUDIT}/export", params={"format": "xml"}, headers=owner["headers"])
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "format"


def test_custom_field_changes_are_recorded_with_the_actor_and_the_diff(client: TestClient[Any]) -> None:
    owner = signup(client, "Acme")
    user_id = _me(client, owner)["user_id"]
    base = "/api/v1/custom-fields/customer"
    created = client.post(
        base, headers=owner["headers"], json={"key": "vip", "label": {"en": "VIP"}, "type": "boolean"}
    ).json()
    url = f"{base}/{created['id']}"
    assert client.patch(url, headers=owner["headers"], json={"required": True}).status_code == 200
    assert client.delete(url, headers=owner["headers"]).status_code == 204

    entries = [
        e
        for e in _entries(client, owner["headers"], entity_type="custom_field_definitions")
        if e["entity_id"] == created["id"]
    ]

    assert {e["actor_id"] for e in entries} == {user_id}
    changes = {(e["action"], json.dumps(e["changes"]["after"], sort_keys=True)) for e in entries}
    assert ("update", json.dumps({"required": True})) in changes
    assert ("update", json.dumps({"archived": True})) in changes
    assert _one(entries, action="create")["changes"]["after"]["key"] == "vip"


_PIPELINES_AUDIT = "tests/frontend_api/test_pipelines.py::test_every_pipeline_change_is_in_the_audit_log"
ACTIVITIES_AUDIT = (
    "tests/frontend_api/test_activities.py::test_activity_changes_are_audited_with_notes_redacted"
)
CUSTOMERS_AUDIT = (
    "tests/frontend_api/test_customers.py::test_customer_changes_are_audited_with_personal_data_redacted"
)

IMPORTS_AUDIT = (
    "tests/frontend_api/test_imports.py::test_imports_are_audited_as_the_uploader_with_personal_data_redacted"
)
IMPORTS_UNDO_AUDIT = (
    "tests/frontend_api/test_imports.py::test_undo_removes_created_restores_updated_and_keeps_changed_records"
)

#: Every route that changes something, and the test above that shows its audit entry.
#: A new route fails this test until its author says where its entry is checked.
LEADS_AUDIT = "tests/frontend_api/test_leads.py::test_lead_changes_are_audited_without_personal_data"
OPPORTUNITIES_AUDIT = "tests/frontend_api/test_opportunities.py::test_opportunity_changes_are_audited"
POOL_AUDIT = "tests/frontend_api/test_customer_pool.py::test_pool_changes_are_audited_with_the_actor"
APPS_AUDIT = (
    "tests/frontend_api/test_oauth.py::test_the_changes_an_app_makes_are_audited_with_the_app_as_the_actor"
)

APP_STATUS_AUDIT = (
    "tests/core/apps/test_app_status.py::test_suspending_and_deleting_an_app_are_in_its_developers_audit_log"
)
PLUGIN_AUDIT = "test_plugin_changes_are_audited_without_their_secrets"
WEBHOOK_AUDIT = "test_webhook_endpoint_changes_are_audited_without_their_secrets"
DELIVERY_LOG = "deliveries are technical rows (opted out); the delivery log is their history"
MUTATING_ROUTES = {
    ("post", "/api/v1/signup"): "test_signup_records_the_tenant_owner_and_roles_without_the_password",
    (
        "post",
        "/api/v1/auth/token",
    ): "test_sign_ins_and_failed_sign_ins_are_recorded_without_telling_the_caller",
    ("post", "/api/v1/auth/switch"): "test_switching_tenant_and_signing_out_are_recorded",
    ("post", "/api/v1/auth/logout"): "test_switching_tenant_and_signing_out_are_recorded",
    ("post", "/api/v1/auth/refresh"): "refresh tokens are technical (opted out); the sign-in is the entry",
    ("post", "/api/v1/me/2fa/setup"): "test_every_mutating_route_leaves_an_entry_with_the_actor_and_the_diff",
    (
        "post",
        "/api/v1/me/2fa/enable",
    ): "test_every_mutating_route_leaves_an_entry_with_the_actor_and_the_diff",
    (
        "post",
        "/api/v1/me/2fa/disable",
    ): "test_every_mutating_route_leaves_an_entry_with_the_actor_and_the_diff",
    ("patch", "/api/v1/tenant"): "test_every_mutating_route_leaves_an_entry_with_the_actor_and_the_diff",
    ("patch", "/api/v1/me"): "test_a_member_setting_their_phone_is_recorded_with_the_number_redacted",
    ("post", "/api/v1/tenant/plugins/{name}/enable"): PLUGIN_AUDIT,
    ("post", "/api/v1/plugins/webhooks/endpoints"): WEBHOOK_AUDIT,
    ("patch", "/api/v1/plugins/webhooks/endpoints/{endpoint_id}"): WEBHOOK_AUDIT,
    ("delete", "/api/v1/plugins/webhooks/endpoints/{endpoint_id}"): WEBHOOK_AUDIT,
    ("post", "/api/v1/plugins/webhooks/endpoints/{endpoint_id}/rotate-secret"): WEBHOOK_AUDIT,
    ("post", "/api/v1/plugins/webhooks/endpoints/{endpoint_id}/ping"): DELIVERY_LOG,
    ("post", "/api/v1/plugins/webhooks/deliveries/{delivery_id}/replay"): DELIVERY_LOG,
    ("patch", "/api/v1/tenant/plugins/{name}"): PLUGIN_AUDIT,
    ("post", "/api/v1/tenant/plugins/{name}/disable"): PLUGIN_AUDIT,
    ("post", "/api/v1/tenant/plugins/{name}/resume"): PLUGIN_AUDIT,
    ("post", "/api/v1/roles"): "test_every_mutating_route_leaves_an_entry_with_the_actor_and_the_diff",
    ("patch", "/api/v1/roles/{role_id}"): "test_role_grant_edits_and_role_assignments_are_explicit_entries",
    (
        "delete",
        "/api/v1/roles/{role_id}",
    ): "test_every_mutating_route_leaves_an_entry_with_the_actor_and_the_diff",
    (
        "patch",
        "/api/v1/members/{member_id}",
    ): "test_every_mutating_route_leaves_an_entry_with_the_actor_and_the_diff",
    (
        "delete",
        "/api/v1/members/{member_id}",
    ): "test_every_mutating_route_leaves_an_entry_with_the_actor_and_the_diff",
    ("post", "/api/v1/invitations"): "test_every_mutating_route_leaves_an_entry_with_the_actor_and_the_diff",
    (
        "delete",
        "/api/v1/invitations/{invitation_id}",
    ): "test_every_mutating_route_leaves_an_entry_with_the_actor_and_the_diff",
    ("post", "/api/v1/invitations/accept"): "test_accepting_an_invitation_is_audited_without_its_token",
    ("post", "/api/v1/auth/password-reset"): "accounts are platform-wide: outside any business's log",
    ("post", "/api/v1/auth/password-reset/confirm"): "accounts are platform-wide: outside any business's log",
    ("post", "/api/v1/teams"): "test_every_mutating_route_leaves_an_entry_with_the_actor_and_the_diff",
    (
        "patch",
        "/api/v1/teams/{team_id}",
    ): "test_every_mutating_route_leaves_an_entry_with_the_actor_and_the_diff",
    (
        "delete",
        "/api/v1/teams/{team_id}",
    ): "test_every_mutating_route_leaves_an_entry_with_the_actor_and_the_diff",
    ("post", "/api/v1/api-keys"): "test_every_mutating_route_leaves_an_entry_with_the_actor_and_the_diff",
    (
        "delete",
        "/api/v1/api-keys/{key_id}",
    ): "test_every_mutating_route_leaves_an_entry_with_the_actor_and_the_diff",
    (
        "post",
        "/api/v1/custom-fields/{entity}",
    ): "test_custom_field_changes_are_recorded_with_the_actor_and_the_diff",
    (
        "patch",
        "/api/v1/custom-fields/{entity}/{field_id}",
    ): "test_custom_field_changes_are_recorded_with_the_actor_and_the_diff",
    (
        "delete",
        "/api/v1/custom-fields/{entity}/{field_id}",
    ): "test_custom_field_changes_are_recorded_with_the_actor_and_the_diff",
    ("post", "/api/platform/auth/token"): "platform sign-in: outside any business's log",
    (
        "post",
        "/api/platform/dead-letters/{dead_letter_id}/replay",
    ): "platform-level: logged as a PlatformAdminAction (tests/frontend_api/test_dead_letters.py)",
    (
        "post",
        "/api/platform/tenants/{tenant_id}/suspend",
    ): "test_a_platform_admin_suspending_a_tenant_is_in_that_tenants_log",
    (
        "post",
        "/api/platform/tenants/{tenant_id}/resume",
    ): "test_a_platform_admin_suspending_a_tenant_is_in_that_tenants_log",
    ("post", "/api/v1/pipelines"): _PIPELINES_AUDIT,
    ("patch", "/api/v1/pipelines/{pipeline_id}"): _PIPELINES_AUDIT,
    ("post", "/api/v1/pipelines/{pipeline_id}/default"): _PIPELINES_AUDIT,
    ("post", "/api/v1/pipelines/{pipeline_id}/archive"): _PIPELINES_AUDIT,
    ("post", "/api/v1/pipelines/{pipeline_id}/stages"): _PIPELINES_AUDIT,
    ("put", "/api/v1/pipelines/{pipeline_id}/stages/order"): _PIPELINES_AUDIT,
    ("patch", "/api/v1/pipelines/{pipeline_id}/stages/{stage_id}"): _PIPELINES_AUDIT,
    ("delete", "/api/v1/pipelines/{pipeline_id}/stages/{stage_id}"): _PIPELINES_AUDIT,
    ("post", "/api/v1/customers"): CUSTOMERS_AUDIT,
    ("post", "/api/v1/leads"): LEADS_AUDIT,
    ("patch", "/api/v1/leads/{lead_id}"): LEADS_AUDIT,
    ("delete", "/api/v1/leads/{lead_id}"): LEADS_AUDIT,
    ("post", "/api/v1/leads/{lead_id}/status"): LEADS_AUDIT,
    ("post", "/api/v1/leads/{lead_id}/assign"): LEADS_AUDIT,
    ("post", "/api/v1/leads/{lead_id}/convert"): LEADS_AUDIT,
    ("post", "/api/v1/lead-forms"): LEADS_AUDIT,
    ("patch", "/api/v1/lead-forms/{form_id}"): LEADS_AUDIT,
    ("post", "/api/v1/lead-forms/{form_id}/rotate-token"): LEADS_AUDIT,
    ("delete", "/api/v1/lead-forms/{form_id}"): LEADS_AUDIT,
    ("post", "/api/v1/lead-assignment-rules"): LEADS_AUDIT,
    ("patch", "/api/v1/lead-assignment-rules/{rule_id}"): LEADS_AUDIT,
    ("delete", "/api/v1/lead-assignment-rules/{rule_id}"): LEADS_AUDIT,
    ("post", "/api/v1/public/lead-forms/{token}"): LEADS_AUDIT,
    ("post", "/api/v1/customers/transfer"): CUSTOMERS_AUDIT,
    ("patch", "/api/v1/customers/{customer_id}"): CUSTOMERS_AUDIT,
    ("delete", "/api/v1/customers/{customer_id}"): CUSTOMERS_AUDIT,
    ("post", "/api/v1/customers/{customer_id}/merge"): CUSTOMERS_AUDIT,
    ("post", "/api/v1/customers/{customer_id}/contacts"): CUSTOMERS_AUDIT,
    ("patch", "/api/v1/customers/{customer_id}/contacts/{contact_id}"): CUSTOMERS_AUDIT,
    ("delete", "/api/v1/customers/{customer_id}/contacts/{contact_id}"): CUSTOMERS_AUDIT,
    ("post", "/api/v1/imports"): IMPORTS_AUDIT,
    ("post", "/api/v1/imports/{import_id}/run"): IMPORTS_AUDIT,
    ("post", "/api/v1/imports/{import_id}/undo"): IMPORTS_UNDO_AUDIT,
    ("post", "/api/v1/activities"): ACTIVITIES_AUDIT,
    ("patch", "/api/v1/activities/{activity_id}"): ACTIVITIES_AUDIT,
    ("delete", "/api/v1/activities/{activity_id}"): ACTIVITIES_AUDIT,
    ("post", "/api/v1/activities/{activity_id}/complete"): ACTIVITIES_AUDIT,
    ("post", "/api/v1/activities/{activity_id}/reopen"): ACTIVITIES_AUDIT,
    ("post", "/api/v1/opportunities"): OPPORTUNITIES_AUDIT,
    ("patch", "/api/v1/opportunities/{opportunity_id}"): OPPORTUNITIES_AUDIT,
    ("delete", "/api/v1/opportunities/{opportunity_id}"): OPPORTUNITIES_AUDIT,
    ("post", "/api/v1/opportunities/{opportunity_id}/stage"): OPPORTUNITIES_AUDIT,
    ("post", "/api/v1/opportunities/{opportunity_id}/won"): OPPORTUNITIES_AUDIT,
    ("post", "/api/v1/opportunities/{opportunity_id}/lost"): OPPORTUNITIES_AUDIT,
    ("post", "/api/v1/opportunities/{opportunity_id}/reopen"): OPPORTUNITIES_AUDIT,
    ("post", "/api/v1/opportunities/{opportunity_id}/transfer"): OPPORTUNITIES_AUDIT,
    ("put", "/api/v1/customer-pool/rules"): POOL_AUDIT,
    ("post", "/api/v1/customer-pool/{customer_id}/claim"): POOL_AUDIT,
    ("post", "/api/v1/customers/{customer_id}/release"): POOL_AUDIT,
    ("post", "/api/v1/apps"): APPS_AUDIT,
    ("patch", "/api/v1/apps/{app_id}"): APPS_AUDIT,
    ("post", "/api/v1/apps/{app_id}/rotate-secret"): APPS_AUDIT,
    ("post", "/api/v1/apps/{app_id}/rotate-webhook-secret"): APPS_AUDIT,
    ("delete", "/api/v1/app-installations/{installation_id}"): APPS_AUDIT,
    ("post", "/api/v1/app-installations/{installation_id}/deliveries/{delivery_id}/replay"): DELIVERY_LOG,
    ("delete", "/api/v1/apps/{app_id}"): APP_STATUS_AUDIT,
    ("post", "/api/platform/apps/{app_id}/suspend"): APP_STATUS_AUDIT,
    ("post", "/api/platform/apps/{app_id}/resume"): APP_STATUS_AUDIT,
    ("post", "/api/v1/apps/{app_id}/installations/{tenant_id}/deliveries/{delivery_id}/replay"): DELIVERY_LOG,
    ("post", "/oauth/authorize"): APPS_AUDIT,
    ("post", "/oauth/revoke"): APPS_AUDIT,
    ("post", "/oauth/token"): "tokens are technical (opted out); the consent and revocations are the entries",
    ("post", "/oauth/introspect"): "reads only",
}


def test_every_mutating_route_has_its_audit_checked_here(client: TestClient[Any]) -> None:
    schema = client.get("/schema/openapi.json").json()
    mutating = {
        (method, path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in {"post", "put", "patch", "delete"}
    }
    assert mutating == set(MUTATING_ROUTES)
    tests = {name for name in globals() if name.startswith("test_")}
    for reason in MUTATING_ROUTES.values():
        assert reason in tests or not reason.startswith("test_"), reason


def test_switching_tenant_and_signing_out_are_recorded(client: TestClient[Any]) -> None:
    first = signup(client, "Alpha")
    second = signup(client, "Beta", email=first["email"])
    user_id = _me(client, first)["user_id"]
    switched = client.post(
        "/api/v1/auth/switch", headers=first["headers"], json={"tenant": second["tenant_id"]}
    )
    assert switched.status_code == 201, switched.text
    entry = _one(_entries(client, second["headers"]), action="auth.switch_tenant")
    assert entry["actor_id"] == user_id
    assert client.post("/api/v1/auth/logout", headers=first["headers"]).status_code == 204
    again = login(client, first["email"], tenant=first["tenant_id"]).json()
    assert _one(_entries(client, bearer(again["access_token"])), action="auth.logout")["actor_id"] == user_id


def test_plugin_changes_are_audited_without_their_secrets(client: TestClient[Any]) -> None:
    owner = signup(client, "Acme")
    url = "/api/v1/tenant/plugins/creditcheck"
    config = {"blocked_words": ["Shady"], "api_key": "bureau-key-9f8e7d"}
    assert client.post(f"{url}/enable", headers=owner["headers"], json={"config": config}).status_code == 200
    changed = client.patch(url, headers=owner["headers"], json={"config": {"daily_limit": 7}})
    assert changed.status_code == 200
    assert client.post(f"{url}/resume", headers=owner["headers"]).status_code == 200
    assert client.post(f"{url}/disable", headers=owner["headers"]).status_code == 200
    entries = [e for e in _entries(client, owner["headers"]) if e["entity_type"] == "tenant_plugins"]
    changes = [(e["action"], e["changes"]) for e in entries]
    assert changes[0][0] == "create"
    assert changes[0][1]["after"]["secrets"] == "[redacted]"
    assert ("update", {"before": {"enabled": True}, "after": {"enabled": False}}) in changes
    assert changes[1][1]["after"]["config"]["daily_limit"] == 7
    assert "bureau-key" not in str(entries)


def test_webhook_endpoint_changes_are_audited_without_their_secrets(client: TestClient[Any]) -> None:
    owner = signup(client, "Acme")
    h = owner["headers"]
    assert client.post("/api/v1/tenant/plugins/webhooks/enable", headers=h, json={}).status_code == 200
    api = "/api/v1/plugins/webhooks/endpoints"
    body = {"url": "https://hooks.example.com/huike", "events": ["customers.*"]}
    created = client.post(api, headers=h, json=body)
    assert created.status_code == 201, created.text
    endpoint, first_secret = created.json()["id"], created.json()["secret"]
    assert client.patch(f"{api}/{endpoint}", headers=h, json={"events": ["*"]}).status_code == 200
    rotated = client.post(f"{api}/{endpoint}/rotate-secret", headers=h, json={})
    assert rotated.status_code == 200, rotated.text
    assert client.delete(f"{api}/{endpoint}", headers=h).status_code == 204
    entries = [e for e in _entries(client, h) if e["entity_type"] == "webhook_endpoints"]
    assert [e["action"] for e in entries] == ["create", "update", "update", "delete"]
    assert entries[1]["changes"]["after"]["events"] == ["*"]
    assert first_secret not in str(entries)
    assert rotated.json()["secret"] not in str(entries)
