"""The public customer pool through the API: rules, release, browse, claim within the cap,
assignment by a manager, scope, masking, events and audit."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select, update

from core.crypto.keyring import open_database
from core.customers import pool
from core.customers.models import Customer
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from frontend_api.services import job_registry
from tests.frontend_api.test_customers import _events, _user_id
from tests.helpers import add_member, bearer, login, signup

API = "/api/v1/customers"
POOL = "/api/v1/customer-pool"
RULES = f"{POOL}/rules"


@pytest.fixture
def acme(client: TestClient[Any], settings: Settings) -> dict[str, Any]:
    """A business with its owner, a manager and two reps (one of them in the manager's team)."""
    owner = signup(client, "Acme")
    manager = add_member(client, settings, owner["tenant_id"], "sales_manager")
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    colleague = add_member(client, settings, owner["tenant_id"], "sales_rep")
    team = client.post(
        "/api/v1/teams",
        headers=owner["headers"],
        json={"name": "East", "manager_id": manager["member_id"]},
    )
    assert team.status_code == 201, team.text
    for person in (rep,):
        moved = client.patch(
            f"/api/v1/members/{person['member_id']}",
            headers=owner["headers"],
            json={"team_id": team.json()["id"]},
        )
        assert moved.status_code == 200, moved.text
    for person in (manager, rep, colleague):  # tokens carry the team: sign in again
        person["headers"] = bearer(login(client, person["email"]).json()["access_token"])
    return {"owner": owner, "manager": manager, "rep": rep, "colleague": colleague}


def _customer(client: TestClient[Any], headers: dict[str, str], name: str, **fields: Any) -> dict[str, Any]:
    response = client.post(
        API,
        headers=headers,
        params={"allow_duplicate": "true"},
        json={"kind": "company", "name": name, **fields},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _release(client: TestClient[Any], headers: dict[str, str], customer_id: str, **body: Any) -> Any:
    return client.post(f"{API}/{customer_id}/release", headers=headers, json=body or None)


def _rules(client: TestClient[Any], headers: dict[str, str], **rules: Any) -> dict[str, Any]:
    current = client.get(RULES, headers=headers)
    response = client.put(RULES, headers={**headers, "If-Match": current.headers["ETag"]}, json=rules)
    assert response.status_code == 200, response.text
    saved: dict[str, Any] = response.json()
    return saved


# --- rules -----------------------------------------------------------------------------------


def test_a_business_starts_with_the_pool_off_and_an_admin_sets_its_rules(
    client: TestClient[Any], acme: dict[str, Any]
) -> None:
    owner, rep = acme["owner"]["headers"], acme["rep"]["headers"]
    first = client.get(RULES, headers=rep)
    assert first.status_code == 200, first.text
    assert first.json()["enabled"] is False
    assert first.headers["ETag"] == '"0"'

    body = {
        "enabled": True,
        "follow_up_days": {"A": 30, "B": 15, "C": None},
        "default_follow_up_days": 10,
        "no_deal_days": 180,
        "notice_days": 3,
        "max_owned_customers": 50,
    }
    saved = client.put(RULES, headers={**owner, "If-Match": '"0"'}, json=body)
    assert saved.status_code == 200, saved.text
    assert saved.headers["ETag"] == '"1"'
    assert {k: saved.json()[k] for k in body} == body
    assert client.get(RULES, headers=rep).json()["follow_up_days"] == {"A": 30, "B": 15, "C": None}

    stale = client.put(RULES, headers={**owner, "If-Match": '"0"'}, json=body)
    assert stale.status_code == 412
    assert stale.json()["code"] == "version_mismatch"
    assert client.put(RULES, headers=rep, json=body).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"follow_up_days": {"A": 0}}, "follow_up_days"),
        ({"follow_up_days": {"x" * 21: 5}}, f"follow_up_days.{'x' * 21}"),
        ({"follow_up_days": {" ": 5}}, "follow_up_days. "),
        ({"notice_days": -1}, "notice_days"),
        ({"max_owned_customers": 0}, "max_owned_customers"),
        ({"no_deal_days": "soon"}, "no_deal_days"),
        ({"limit": 3}, "limit"),
    ],
)
def test_bad_pool_rules_are_refused_naming_the_field(
    client: TestClient[Any], acme: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = client.put(RULES, headers=acme["owner"]["headers"], json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"].startswith(field), response.json()
    assert client.get(RULES, headers=acme["owner"]["headers"]).json()["version"] == 0


# --- release, browse, claim ------------------------------------------------------------------


def test_a_released_customer_leaves_its_owner_and_is_claimed_by_a_colleague(
    client: TestClient[Any], settings: Settings, acme: dict[str, Any]
) -> None:
    rep, colleague = acme["rep"]["headers"], acme["colleague"]["headers"]
    rep_id, colleague_id = _user_id(client, rep), _user_id(client, colleague)
    customer = _customer(client, rep, "Globex", level="B", last_contacted_at="2026-01-01T00:00:00Z")

    released = _release(client, rep, customer["id"], reason="  No budget this year  ")
    assert released.status_code == 200, released.text
    body = released.json()
    assert body["in_pool"] is True
    assert body["owner_id"] is None
    assert body["pool_reason"] == "released"
    assert body["pool_note"] == "No budget this year"
    assert body["pool_released_by"] == rep_id
    assert body["pool_previous_owner_id"] == rep_id
    assert client.get(f"{API}/{customer['id']}", headers=rep).status_code == 404
    assert client.get(API, headers=rep).json()["items"] == []

    listed = client.get(POOL, headers=colleague).json()["items"]
    assert [c["id"] for c in listed] == [customer["id"]]
    assert client.get(f"{POOL}/{customer['id']}", headers=colleague).json()["in_pool"] is True
    assert client.get(API, headers=colleague).json()["items"] == []

    claimed = client.post(f"{POOL}/{customer['id']}/claim", headers=colleague)
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["owner_id"] == colleague_id
    assert claimed.json()["in_pool"] is False
    assert claimed.json()["pool_reason"] is None
    # The clock restarts: a long-quiet customer does not bounce back at once.
    assert claimed.json()["assigned_at"] > "2026-01-01"
    assert client.get(f"{API}/{customer['id']}", headers=colleague).status_code == 200
    assert client.get(POOL, headers=colleague).json()["items"] == []
    # Out of the pool now: the first rep sees it nowhere, and it cannot be claimed again.
    assert client.get(f"{POOL}/{customer['id']}", headers=rep).status_code == 404
    assert client.post(f"{POOL}/{customer['id']}/claim", headers=rep).status_code == 404

    events = [(name, payload) for name, payload in _events(settings) if name.startswith("customers.")]
    assert (
        "customers.returned_to_pool",
        {"customer_id": customer["id"], "from_owner_id": rep_id, "reason": "released", "actor_id": rep_id},
    ) in events
    assert (
        "customers.claimed",
        {"customer_id": customer["id"], "owner_id": colleague_id, "actor_id": colleague_id},
    ) in events


def test_the_pool_list_filters_like_the_customer_list_and_masks_without_read_sensitive(
    client: TestClient[Any], settings: Settings, acme: dict[str, Any]
) -> None:
    owner = acme["owner"]
    for name, level in (("Alpha Trading", "A"), ("Beta Foods", "B"), ("Alpha Tech", "B")):
        created = _customer(client, owner["headers"], name, level=level, phone="13800138000")
        assert _release(client, owner["headers"], created["id"]).status_code == 200
    names = [
        c["name"]
        for c in client.get(POOL, params={"q": "alpha", "level": "B"}, headers=owner["headers"]).json()[
            "items"
        ]
    ]
    assert names == ["Alpha Tech"]
    by_phone = client.get(POOL, params={"phone": "+86 138 0013 8000"}, headers=owner["headers"]).json()
    assert len(by_phone["items"]) == 3
    assert by_phone["items"][0]["phone"] == "+8613800138000"
    assert by_phone["items"][0]["masked"] is False

    role = client.post(
        "/api/v1/roles",
        headers=owner["headers"],
        json={"name": "Pool browser", "grants": {"customers.claim": "own"}},
    ).json()
    browser = add_member(client, settings, owner["tenant_id"], "viewer")
    client.patch(
        f"/api/v1/members/{browser['member_id']}", headers=owner["headers"], json={"roles": [role["id"]]}
    )
    headers = bearer(login(client, browser["email"]).json()["access_token"])
    masked = client.get(POOL, params={"sort": "name"}, headers=headers).json()["items"]
    assert [c["name"] for c in masked] == ["Alpha Tech", "Alpha Trading", "Beta Foods"]
    assert {c["phone"] for c in masked} == {"+86 138****8000"}
    assert all(c["masked"] for c in masked)


def test_a_claim_over_the_cap_is_refused_naming_the_cap(
    client: TestClient[Any], acme: dict[str, Any]
) -> None:
    owner, rep = acme["owner"]["headers"], acme["rep"]["headers"]
    _rules(client, owner, enabled=True, max_owned_customers=1)
    _customer(client, rep, "Mine")
    pooled = _customer(client, owner, "Pooled")
    _release(client, owner, pooled["id"])

    refused = client.post(f"{POOL}/{pooled['id']}/claim", headers=rep)

    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["code"] == "pool_cap_reached"
    assert problem["errors"][0]["field"] == "max_owned_customers"
    assert problem["max_owned_customers"] == 1
    assert client.get(f"{POOL}/{pooled['id']}", headers=rep).status_code == 200


def test_only_customers_in_scope_are_released_and_only_pool_customers_claimed(
    client: TestClient[Any], acme: dict[str, Any]
) -> None:
    rep, colleague, manager = (acme[k]["headers"] for k in ("rep", "colleague", "manager"))
    theirs = _customer(client, colleague, "Colleague's")
    mine = _customer(client, rep, "Mine")
    for method, path in (
        ("post", f"{API}/{theirs['id']}/release"),
        ("get", f"{POOL}/{theirs['id']}"),
        ("post", f"{POOL}/{theirs['id']}/claim"),
        ("get", f"{POOL}/{mine['id']}"),
        ("post", f"{POOL}/{mine['id']}/claim"),
    ):
        assert client.request(method, path, headers=rep).status_code == 404, (method, path)
    # A manager releases a team member's customer; a customer in the pool cannot be released again.
    assert _release(client, manager, mine["id"]).status_code == 200
    assert _release(client, acme["owner"]["headers"], mine["id"]).json()["code"] == "already_in_pool"
    assert _release(client, manager, theirs["id"]).status_code == 404


def test_a_manager_assigns_a_pool_customer_to_a_rep_with_a_transfer(
    client: TestClient[Any], settings: Settings, acme: dict[str, Any]
) -> None:
    owner, manager, rep = (acme[k]["headers"] for k in ("owner", "manager", "rep"))
    rep_id = _user_id(client, rep)
    pooled = _customer(client, owner, "Pooled")
    _release(client, owner, pooled["id"], reason="Owner left")

    moved = client.post(
        f"{API}/transfer", headers=manager, json={"to_owner_id": rep_id, "customer_ids": [pooled["id"]]}
    )

    assert moved.status_code == 200, moved.text
    assert moved.json()["transferred"] == [pooled["id"]]
    shown = client.get(f"{API}/{pooled['id']}", headers=rep).json()
    assert shown["owner_id"] == rep_id
    assert shown["in_pool"] is False
    assert shown["pool_note"] is None
    transferred = [p for n, p in _events(settings) if n == "customers.transferred"]
    assert transferred[-1] == {"customer_id": pooled["id"], "from_owner_id": None, "to_owner_id": rep_id}


def test_pool_changes_are_audited_with_the_actor(client: TestClient[Any], acme: dict[str, Any]) -> None:
    owner, rep = acme["owner"]["headers"], acme["rep"]["headers"]
    owner_id, rep_id = _user_id(client, owner), _user_id(client, rep)
    _rules(client, owner, enabled=True, notice_days=2)
    customer = _customer(client, rep, "Globex")
    _release(client, rep, customer["id"], reason="Moved abroad")
    client.post(f"{POOL}/{customer['id']}/claim", headers=rep)

    entries = client.get("/api/v1/audit", params={"limit": 200}, headers=owner).json()["items"]
    rules = [e for e in entries if e["entity_type"] == "customer_pool_rules"]
    assert rules[0]["actor_id"] == owner_id
    assert rules[0]["changes"]["after"]["notice_days"] == 2
    changes = [
        (e["actor_id"], e["changes"]["after"])
        for e in entries
        if e["entity_id"] == customer["id"] and e["action"] == "update"
    ]
    released, claimed = changes[-2], changes[-1]
    assert released == (rep_id, released[1])
    assert released[1]["owner_id"] is None
    assert released[1]["pool_reason"] == "released"
    assert claimed[0] == rep_id
    assert claimed[1]["owner_id"] == rep_id


def test_the_pools_events_reach_the_timeline_and_its_job_runs_hourly() -> None:
    registry = job_registry()
    assert "activities.timeline.customers.returned_to_pool" in registry.handlers
    assert "activities.timeline.customers.claimed" in registry.handlers
    assert registry.periodic["customers.run_pool"].cron == "23 * * * *"
    assert json.dumps(sorted(registry.jobs)).count("customers.run_") == 2


def test_an_api_key_browses_the_pool_but_cannot_claim(client: TestClient[Any], acme: dict[str, Any]) -> None:
    owner = acme["owner"]["headers"]
    pooled = _customer(client, owner, "Pooled")
    _release(client, owner, pooled["id"])
    key = client.post(
        "/api/v1/api-keys", headers=owner, json={"name": "Sync", "grants": {"customers.claim": "all"}}
    ).json()["key"]
    headers = bearer(key)

    assert [c["id"] for c in client.get(POOL, headers=headers).json()["items"]] == [pooled["id"]]
    refused = client.post(f"{POOL}/{pooled['id']}/claim", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_a_person"


def _in_tenant(settings: Settings, tenant_id: str, work: Any) -> Any:
    """Run ``work(session)`` in one transaction of the tenant (for what the API cannot set)."""

    async def run() -> Any:
        database = open_database(settings)
        try:
            with tenant_context(uuid.UUID(tenant_id)):
                async with database.transaction() as session:
                    return await work(session)
        finally:
            await database.dispose()

    return asyncio.run(run())


def _customer_row(settings: Settings, tenant_id: str, customer_id: str) -> Customer:
    return _in_tenant(  # type: ignore[no-any-return]
        settings, tenant_id, lambda s: s.scalar(select(Customer).where(Customer.id == uuid.UUID(customer_id)))
    )


def test_setting_last_contacted_at_restarts_the_pool_notice(
    client: TestClient[Any], settings: Settings, acme: dict[str, Any]
) -> None:
    rep, tenant_id = acme["rep"]["headers"], acme["owner"]["tenant_id"]
    customer = _customer(client, rep, "Globex")

    async def noticed(session: Any) -> None:
        await session.execute(
            update(Customer)
            .where(Customer.id == uuid.UUID(customer["id"]))
            .values(pool_noticed_at=datetime.now(UTC))
            .execution_options(audited_by_caller=True)
        )

    _in_tenant(settings, tenant_id, noticed)
    assert _customer_row(settings, tenant_id, customer["id"]).pool_noticed_at is not None

    changed = client.patch(
        f"{API}/{customer['id']}", headers=rep, json={"last_contacted_at": "2026-11-30T09:00:00Z"}
    )

    assert changed.status_code == 200, changed.text
    assert _customer_row(settings, tenant_id, customer["id"]).pool_noticed_at is None


def test_a_merge_keeps_the_later_deal(
    client: TestClient[Any], settings: Settings, acme: dict[str, Any]
) -> None:
    owner, tenant_id = acme["owner"]["headers"], acme["owner"]["tenant_id"]
    survivor, other = _customer(client, owner, "Survivor"), _customer(client, owner, "Other")

    async def deals(session: Any) -> None:
        await pool.record_deal(session, uuid.UUID(survivor["id"]), datetime(2026, 3, 1, tzinfo=UTC))
        await pool.record_deal(session, uuid.UUID(other["id"]), datetime(2026, 9, 1, tzinfo=UTC))

    _in_tenant(settings, tenant_id, deals)

    merged = client.post(f"{API}/{survivor['id']}/merge", headers=owner, json={"other_id": other["id"]})

    assert merged.status_code == 200, merged.text
    assert merged.json()["last_deal_at"].startswith("2026-09-01")
