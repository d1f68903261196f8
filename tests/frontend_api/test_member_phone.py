"""A member's work mobile in the business: set and cleared by the member (``PATCH /api/v1/me``)
or by who manages members (``PATCH /api/v1/members/{id}``),
stored in E.164 and encrypted, refused with a problem naming the field when it is not a phone
number, shown in full to the member and to who manages members, masked to colleagues."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from core.kernel.settings import Settings
from tests.frontend_api.test_customers import _raw
from tests.helpers import add_member, bearer, signup

ME = "/api/v1/me"
MEMBERS = "/api/v1/members"


def _set_phone(client: TestClient[Any], who: dict[str, Any], phone: Any) -> Any:
    return client.patch(ME, headers=who["headers"], json={"phone": phone})


def test_a_member_sets_their_work_mobile_and_it_is_kept_in_e164(client: TestClient[Any]) -> None:
    owner = signup(client, "Acme")
    assert client.get(ME, headers=owner["headers"]).json()["phone"] is None

    changed = _set_phone(client, owner, "138 0013 8000")

    assert changed.status_code == 200, changed.text
    assert changed.json()["phone"] == "+8613800138000"
    assert client.get(ME, headers=owner["headers"]).json()["phone"] == "+8613800138000"
    hong_kong = _set_phone(client, owner, "+852 5123 4567")
    assert hong_kong.json()["phone"] == "+85251234567"


def test_a_member_clears_their_phone_with_null_or_an_empty_value(client: TestClient[Any]) -> None:
    owner = signup(client, "Acme")
    for cleared in (None, "  "):
        assert _set_phone(client, owner, "13800138000").json()["phone"] == "+8613800138000"
        response = _set_phone(client, owner, cleared)
        assert response.status_code == 200, response.text
        assert response.json()["phone"] is None
        assert client.get(ME, headers=owner["headers"]).json()["phone"] is None


def test_a_body_without_a_phone_changes_nothing(client: TestClient[Any]) -> None:
    owner = signup(client, "Acme")
    _set_phone(client, owner, "13800138000")
    response = client.patch(ME, headers=owner["headers"], json={})
    assert response.status_code == 200, response.text
    assert response.json()["phone"] == "+8613800138000"


def test_what_is_not_a_phone_number_is_a_problem_naming_the_field(client: TestClient[Any]) -> None:
    owner = signup(client, "Acme")
    _set_phone(client, owner, "13800138000")
    for bad in ("call me", "123", "1" * 41):
        refused = _set_phone(client, owner, bad)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in refused.json()["errors"]] == ["phone"], refused.text
    not_a_number = _set_phone(client, owner, "call me").json()
    assert not_a_number["code"] == "invalid_phone"
    assert not_a_number["detail"] == "This is not a phone number."
    unknown = client.patch(ME, headers=owner["headers"], json={"mobile": "13800138000"})
    assert unknown.status_code == 422, unknown.text
    assert [e["field"] for e in unknown.json()["errors"]] == ["mobile"]
    # Nothing refused was kept.
    assert client.get(ME, headers=owner["headers"]).json()["phone"] == "+8613800138000"


def test_an_api_key_has_no_phone_to_set(client: TestClient[Any]) -> None:
    owner = signup(client, "Acme")
    key = client.post(
        "/api/v1/api-keys", headers=owner["headers"], json={"name": "Sync", "grants": {"members.read": "all"}}
    ).json()
    refused = client.patch(ME, headers=bearer(key["key"]), json={"phone": "13800138000"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "not_a_person"


def test_the_phone_is_stored_encrypted(client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client, "Acme")
    _set_phone(client, owner, "13800138000")
    rows = _raw(settings, "SELECT phone FROM memberships WHERE phone IS NOT NULL")
    assert len(rows) == 1
    stored = bytes(rows[0][0])
    assert b"13800138000" not in stored
    assert "13800138000" not in stored.decode("latin-1")


def test_colleagues_see_a_phone_masked_and_who_manages_members_sees_it_in_full(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client, "Acme")
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    _set_phone(client, owner, "139 0013 9000")
    _set_phone(client, rep, "13800138000")

    def listed(who: dict[str, Any]) -> dict[str, dict[str, Any]]:
        response = client.get(MEMBERS, headers=who["headers"])
        assert response.status_code == 200, response.text
        return {m["id"]: m for m in response.json()["items"]}

    owner_id = client.get(ME, headers=owner["headers"]).json()["membership_id"]
    by_rep = listed(rep)
    assert by_rep[owner_id]["phone"] == "+86 139****9000"
    assert by_rep[owner_id]["masked"] is True
    assert by_rep[rep["member_id"]]["phone"] == "+8613800138000"  # their own
    assert by_rep[rep["member_id"]]["masked"] is False
    by_owner = listed(owner)
    assert by_owner[rep["member_id"]]["phone"] == "+8613800138000"
    assert by_owner[rep["member_id"]]["masked"] is False
    shown = client.get(f"{MEMBERS}/{owner_id}", headers=rep["headers"]).json()
    assert shown["phone"] == "+86 139****9000"

    other = signup(client, "Other")
    assert client.get(f"{MEMBERS}/{rep['member_id']}", headers=other["headers"]).status_code == 404
    assert rep["member_id"] not in listed(other)


def test_who_manages_members_sets_and_clears_a_members_work_mobile(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client, "Acme")
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    other_rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    member = f"{MEMBERS}/{rep['member_id']}"

    changed = client.patch(member, headers=owner["headers"], json={"phone": "138 0013 8000"})

    assert changed.status_code == 200, changed.text
    assert changed.json()["phone"] == "+8613800138000"
    assert client.get(ME, headers=rep["headers"]).json()["phone"] == "+8613800138000"
    refused = client.patch(member, headers=owner["headers"], json={"phone": "call me"})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["phone"]
    # A colleague without members.manage may not; another business does not find the member.
    assert client.patch(member, headers=other_rep["headers"], json={"phone": None}).status_code == 403
    other = signup(client, "Other")
    assert client.patch(member, headers=other["headers"], json={"phone": None}).status_code == 404
    assert client.get(ME, headers=rep["headers"]).json()["phone"] == "+8613800138000"
    cleared = client.patch(member, headers=owner["headers"], json={"phone": None})
    assert cleared.json()["phone"] is None
    assert client.get(ME, headers=rep["headers"]).json()["phone"] is None
