"""Roles, members, teams and record scope, through the API."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from core.kernel.settings import Settings
from tests.helpers import add_member, signup


def _role_id(client: TestClient[Any], headers: dict[str, str], name: str) -> str:
    roles = client.get("/api/v1/roles?limit=200", headers=headers).json()["items"]
    return next(r["id"] for r in roles if r["name"] == name)


def test_an_admin_creates_and_edits_a_role(client: TestClient[Any]) -> None:
    owner = signup(client)
    created = client.post(
        "/api/v1/roles",
        headers=owner["headers"],
        json={"name": "Auditor", "grants": {"members.read": "all", "roles.read": "all"}},
    )
    assert created.status_code == 201
    role_id = created.json()["id"]
    edited = client.patch(
        f"/api/v1/roles/{role_id}", headers=owner["headers"], json={"grants": {"members.read": "team"}}
    )
    assert edited.json()["grants"] == {"members.read": "team"}
    assert client.get(f"/api/v1/roles/{role_id}", headers=owner["headers"]).json()["name"] == "Auditor"
    assert client.delete(f"/api/v1/roles/{role_id}", headers=owner["headers"]).status_code == 204
    assert client.get(f"/api/v1/roles/{role_id}", headers=owner["headers"]).status_code == 404


def test_unknown_permissions_and_scopes_are_refused_by_field(client: TestClient[Any]) -> None:
    owner = signup(client)
    response = client.post(
        "/api/v1/roles", headers=owner["headers"], json={"name": "X", "grants": {"customers.teleport": "all"}}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_permission"
    assert response.json()["errors"][0]["field"] == "grants.customers.teleport"
    response = client.post(
        "/api/v1/roles", headers=owner["headers"], json={"name": "X", "grants": {"members.read": "galaxy"}}
    )
    assert response.json()["code"] == "invalid_scope"


def test_nobody_grants_more_than_they_hold(client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client)
    admin = add_member(client, settings, owner["tenant_id"], "admin")
    response = client.post(
        "/api/v1/roles",
        headers=admin["headers"],
        json={"name": "Kingmaker", "grants": {"tenant.transfer_ownership": "all"}},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "grant_exceeds_own"


def test_the_owner_role_is_fixed_and_a_held_role_cannot_be_deleted(client: TestClient[Any]) -> None:
    owner = signup(client)
    owner_role = _role_id(client, owner["headers"], "owner")
    assert (
        client.patch(f"/api/v1/roles/{owner_role}", headers=owner["headers"], json={"grants": {}}).json()[
            "code"
        ]
        == "owner_role_fixed"
    )
    assert (
        client.delete(f"/api/v1/roles/{owner_role}", headers=owner["headers"]).json()["code"]
        == "owner_role_fixed"
    )


def test_a_viewer_reads_but_cannot_change_roles(client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client)
    viewer = add_member(client, settings, owner["tenant_id"], "viewer")
    assert client.get("/api/v1/members", headers=viewer["headers"]).status_code == 200
    response = client.post("/api/v1/roles", headers=viewer["headers"], json={"name": "Mine", "grants": {}})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_an_admin_assigns_roles_and_the_member_gets_their_permissions(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    rep = add_member(client, settings, owner["tenant_id"], "viewer")
    manager_role = _role_id(client, owner["headers"], "sales_manager")
    response = client.patch(
        f"/api/v1/members/{rep['member_id']}", headers=owner["headers"], json={"roles": [manager_role]}
    )
    assert response.status_code == 200
    assert response.json()["roles"] == [manager_role]
    me = client.get("/api/v1/me", headers=rep["headers"]).json()
    assert me["roles"] == ["sales_manager"]
    assert "roles.read" in me["permissions"]


def test_the_last_owner_cannot_be_removed_or_demoted(client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client)
    me = client.get("/api/v1/me", headers=owner["headers"]).json()
    admin_role = _role_id(client, owner["headers"], "admin")
    demote = client.patch(
        f"/api/v1/members/{me['membership_id']}", headers=owner["headers"], json={"roles": [admin_role]}
    )
    assert demote.status_code == 409
    assert demote.json()["code"] == "last_owner"
    second_owner = add_member(client, settings, owner["tenant_id"], "owner")
    remove = client.delete(f"/api/v1/members/{me['membership_id']}", headers=second_owner["headers"])
    assert remove.status_code == 204
    removed_again = client.patch(
        f"/api/v1/members/{second_owner['member_id']}",
        headers=second_owner["headers"],
        json={"roles": [admin_role]},
    )
    assert removed_again.json()["code"] == "last_owner"


def test_only_an_owner_gives_the_owner_role(client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client)
    admin = add_member(client, settings, owner["tenant_id"], "admin")
    owner_role = _role_id(client, owner["headers"], "owner")
    response = client.patch(
        f"/api/v1/members/{admin['member_id']}", headers=admin["headers"], json={"roles": [owner_role]}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "owner_only"
    response = client.patch(
        f"/api/v1/members/{admin['member_id']}", headers=owner["headers"], json={"roles": [owner_role]}
    )
    assert response.status_code == 200


def test_a_removed_member_can_no_longer_use_their_token(client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client)
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    assert client.delete(f"/api/v1/members/{rep['member_id']}", headers=owner["headers"]).status_code == 204
    assert client.get("/api/v1/me", headers=rep["headers"]).status_code == 401


def test_teams_are_created_and_members_join_them(client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client)
    manager = add_member(client, settings, owner["tenant_id"], "sales_manager")
    team = client.post(
        "/api/v1/teams", headers=owner["headers"], json={"name": "East", "manager_id": manager["member_id"]}
    ).json()
    assert team["manager_id"] == manager["member_id"]
    duplicate = client.post("/api/v1/teams", headers=owner["headers"], json={"name": "east"})
    assert duplicate.status_code == 409
    assert duplicate.json()["errors"][0]["field"] == "name"
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    client.patch(
        f"/api/v1/members/{rep['member_id']}", headers=owner["headers"], json={"team_id": team["id"]}
    )
    listed = client.get(f"/api/v1/members?team_id={team['id']}", headers=owner["headers"]).json()["items"]
    assert [m["id"] for m in listed] == [rep["member_id"]]
    assert client.delete(f"/api/v1/teams/{team['id']}", headers=owner["headers"]).status_code == 204
    assert (
        client.get(f"/api/v1/members/{rep['member_id']}", headers=owner["headers"]).json()["team_id"] is None
    )


def test_record_scope_own_team_all_limits_lists_and_reads(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    tenant = owner["tenant_id"]
    scoped = {
        scope: client.post(
            "/api/v1/roles",
            headers=owner["headers"],
            json={"name": f"reader-{scope}", "grants": {"members.read": scope}},
        ).json()["name"]
        for scope in ("own", "team")
    }
    manager = add_member(client, settings, tenant, scoped["team"])
    teammate = add_member(client, settings, tenant, scoped["own"])
    outsider = add_member(client, settings, tenant, scoped["own"])
    team = client.post(
        "/api/v1/teams", headers=owner["headers"], json={"name": "East", "manager_id": manager["member_id"]}
    ).json()
    client.patch(
        f"/api/v1/members/{teammate['member_id']}", headers=owner["headers"], json={"team_id": team["id"]}
    )

    def visible(member: dict[str, Any]) -> set[str]:
        items = client.get("/api/v1/members?limit=200", headers=member["headers"]).json()["items"]
        return {m["id"] for m in items}

    assert visible(teammate) == {teammate["member_id"]}
    assert visible(manager) == {manager["member_id"], teammate["member_id"]}
    assert len(visible(owner)) == 4
    out_of_scope = client.get(f"/api/v1/members/{outsider['member_id']}", headers=manager["headers"])
    missing = client.get("/api/v1/members/01234567-89ab-7def-8123-456789abcdef", headers=manager["headers"])
    assert out_of_scope.status_code == missing.status_code == 404
    assert out_of_scope.json()["detail"] == missing.json()["detail"]
