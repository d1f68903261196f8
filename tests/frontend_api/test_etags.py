"""Optimistic concurrency: GET gives an ETag, a stale If-Match is refused with 412 and
changes nothing, the current one succeeds and moves the ETag on."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from tests.helpers import add_member, signup


def _role(client: TestClient[Any], headers: dict[str, str], name: str = "Support") -> str:
    response = client.post(
        "/api/v1/roles", json={"name": name, "grants": {"roles.read": "all"}}, headers=headers
    )
    assert response.status_code == 201, response.text
    role_id: str = response.json()["id"]
    return role_id


def test_a_role_answers_with_an_etag_and_its_list_item_with_the_version(client: TestClient[Any]) -> None:
    owner = signup(client)
    role_id = _role(client, owner["headers"])

    shown = client.get(f"/api/v1/roles/{role_id}", headers=owner["headers"])
    listed = client.get("/api/v1/roles", headers=owner["headers"]).json()["items"]

    assert shown.headers["etag"] == '"1"'
    assert [r["version"] for r in listed if r["id"] == role_id] == [1]


def test_a_stale_if_match_is_refused_and_changes_nothing(client: TestClient[Any]) -> None:
    owner = signup(client)
    role_id = _role(client, owner["headers"])
    stale = client.get(f"/api/v1/roles/{role_id}", headers=owner["headers"]).headers["etag"]
    first = client.patch(
        f"/api/v1/roles/{role_id}", json={"name": "Helpdesk"}, headers={**owner["headers"], "If-Match": stale}
    )
    assert first.status_code == 200, first.text

    second = client.patch(
        f"/api/v1/roles/{role_id}",
        json={"name": "Overwritten"},
        headers={**owner["headers"], "If-Match": stale},
    )

    assert second.status_code == 412
    assert second.json()["code"] == "version_mismatch"
    assert second.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"/api/v1/roles/{role_id}", headers=owner["headers"]).json()["name"] == "Helpdesk"


def test_the_current_if_match_succeeds_and_the_etag_changes(client: TestClient[Any]) -> None:
    owner = signup(client)
    role_id = _role(client, owner["headers"])
    before = client.get(f"/api/v1/roles/{role_id}", headers=owner["headers"]).headers["etag"]

    changed = client.patch(
        f"/api/v1/roles/{role_id}",
        json={"description": "x"},
        headers={**owner["headers"], "If-Match": before},
    )

    assert changed.status_code == 200
    assert changed.headers["etag"] != before
    assert (
        client.get(f"/api/v1/roles/{role_id}", headers=owner["headers"]).headers["etag"]
        == changed.headers["etag"]
    )


def test_a_stale_if_match_on_delete_keeps_the_role(client: TestClient[Any]) -> None:
    owner = signup(client)
    role_id = _role(client, owner["headers"])
    client.patch(f"/api/v1/roles/{role_id}", json={"description": "changed"}, headers=owner["headers"])

    response = client.delete(f"/api/v1/roles/{role_id}", headers={**owner["headers"], "If-Match": '"1"'})

    assert response.status_code == 412
    assert client.get(f"/api/v1/roles/{role_id}", headers=owner["headers"]).status_code == 200
    deleted = client.delete(f"/api/v1/roles/{role_id}", headers={**owner["headers"], "If-Match": '"2"'})
    assert deleted.status_code == 204


def test_a_malformed_if_match_is_a_clear_problem(client: TestClient[Any]) -> None:
    owner = signup(client)
    role_id = _role(client, owner["headers"])

    response = client.patch(
        f"/api/v1/roles/{role_id}", json={"name": "X"}, headers={**owner["headers"], "If-Match": 'W/"1"'}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_if_match"
    assert response.json()["errors"][0]["field"] == "If-Match"
    assert client.get(f"/api/v1/roles/{role_id}", headers=owner["headers"]).json()["name"] == "Support"


def test_if_match_star_or_none_means_whatever_is_current(client: TestClient[Any]) -> None:
    owner = signup(client)
    role_id = _role(client, owner["headers"])

    star = client.patch(
        f"/api/v1/roles/{role_id}", json={"name": "A"}, headers={**owner["headers"], "If-Match": "*"}
    )
    none = client.patch(f"/api/v1/roles/{role_id}", json={"name": "B"}, headers=owner["headers"])

    assert (star.status_code, none.status_code) == (200, 200)
    assert none.headers["etag"] == '"3"'


def test_teams_honour_if_match(client: TestClient[Any]) -> None:
    owner = signup(client)
    team = client.post("/api/v1/teams", json={"name": "North"}, headers=owner["headers"]).json()
    etag = client.get(f"/api/v1/teams/{team['id']}", headers=owner["headers"]).headers["etag"]
    client.patch(f"/api/v1/teams/{team['id']}", json={"name": "South"}, headers=owner["headers"])

    stale = client.patch(
        f"/api/v1/teams/{team['id']}", json={"name": "East"}, headers={**owner["headers"], "If-Match": etag}
    )
    stale_delete = client.delete(
        f"/api/v1/teams/{team['id']}", headers={**owner["headers"], "If-Match": etag}
    )

    assert (stale.status_code, stale_delete.status_code) == (412, 412)
    assert client.get(f"/api/v1/teams/{team['id']}", headers=owner["headers"]).json()["name"] == "South"


def test_changing_a_members_roles_moves_their_etag_and_a_stale_one_is_refused(
    client: TestClient[Any], settings: Any
) -> None:
    owner = signup(client)
    member = add_member(client, settings, owner["tenant_id"], "viewer")
    url = f"/api/v1/members/{member['member_id']}"
    before = client.get(url, headers=owner["headers"])
    viewer_roles = before.json()["roles"]
    roles = client.get("/api/v1/roles?limit=200", headers=owner["headers"]).json()["items"]
    sales_rep = next(r["id"] for r in roles if r["name"] == "sales_rep")

    changed = client.patch(
        url, json={"roles": [sales_rep]}, headers={**owner["headers"], "If-Match": before.headers["etag"]}
    )
    stale = client.patch(
        url, json={"roles": viewer_roles}, headers={**owner["headers"], "If-Match": before.headers["etag"]}
    )

    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] != before.headers["etag"]
    assert stale.status_code == 412
    assert client.get(url, headers=owner["headers"]).json()["roles"] == [sales_rep]


def test_tenant_settings_honour_if_match(client: TestClient[Any]) -> None:
    owner = signup(client, company="Old Name")
    etag = client.get("/api/v1/tenant", headers=owner["headers"]).headers["etag"]
    renamed = client.patch(
        "/api/v1/tenant", json={"name": "New Name"}, headers={**owner["headers"], "If-Match": etag}
    )

    stale = client.patch(
        "/api/v1/tenant", json={"name": "Lost"}, headers={**owner["headers"], "If-Match": etag}
    )

    assert renamed.status_code == 200
    assert renamed.headers["etag"] != etag
    assert stale.status_code == 412
    assert client.get("/api/v1/tenant", headers=owner["headers"]).json()["name"] == "New Name"


def test_revoking_an_api_key_or_invitation_honours_if_match(client: TestClient[Any]) -> None:
    owner = signup(client)
    key = client.post(
        "/api/v1/api-keys", json={"name": "erp", "grants": {"roles.read": "all"}}, headers=owner["headers"]
    ).json()
    invitation = client.post(
        "/api/v1/invitations",
        json={"email": "new@example.com", "role_id": _role(client, owner["headers"], "Guest")},
        headers=owner["headers"],
    )
    assert invitation.status_code == 201, invitation.text

    key_refused = client.delete(
        f"/api/v1/api-keys/{key['id']}", headers={**owner["headers"], "If-Match": '"7"'}
    )
    invitation_refused = client.delete(
        f"/api/v1/invitations/{invitation.json()['id']}", headers={**owner["headers"], "If-Match": '"7"'}
    )

    assert (key_refused.status_code, invitation_refused.status_code) == (412, 412)
    assert client.get(f"/api/v1/api-keys/{key['id']}", headers=owner["headers"]).json()["revoked_at"] is None
    assert len(client.get("/api/v1/invitations", headers=owner["headers"]).json()["items"]) == 1
    assert (
        client.delete(
            f"/api/v1/api-keys/{key['id']}", headers={**owner["headers"], "If-Match": '"1"'}
        ).status_code
        == 204
    )


def test_browsers_may_read_the_etag_and_rate_limit_headers(settings: Any) -> None:
    import dataclasses

    from frontend_api.app import create_app

    app = create_app(dataclasses.replace(settings, cors_origins=("https://app.example.com",)))
    with TestClient(app) as browser:
        owner = signup(browser)
        response = browser.get(
            "/api/v1/tenant", headers={**owner["headers"], "Origin": "https://app.example.com"}
        )

    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"etag", "ratelimit-remaining", "retry-after", "idempotent-replayed"} <= exposed
