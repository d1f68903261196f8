"""Sales pipelines through the API: seeding at signup, the admin operations, the stage rules,
permissions, another tenant's 404 and If-Match."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from core.kernel.settings import Settings
from tests.helpers import PASSWORD, add_member, bearer, signup, unique_email

PIPELINES = "/api/v1/pipelines"


def _default(client: TestClient[Any], headers: dict[str, str]) -> dict[str, Any]:
    items = client.get(PIPELINES, headers=headers).json()["items"]
    defaults = [p for p in items if p["is_default"]]
    assert len(defaults) == 1, items
    return defaults[0]


def _create(
    client: TestClient[Any], headers: dict[str, str], name: str = "Projects", **body: Any
) -> dict[str, Any]:
    response = client.post(PIPELINES, headers=headers, json={"name": name, "locale": "en", **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _names(pipeline: dict[str, Any]) -> list[str]:
    return [s["name"] for s in pipeline["stages"]]


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


# --- seeding at signup ---------------------------------------------------------------------


def test_a_new_tenant_starts_with_a_chinese_default_pipeline(client: TestClient[Any]) -> None:
    owner = signup(client, "汇客贸易")  # the signup locale defaults to zh-CN
    pipeline = _default(client, owner["headers"])
    assert pipeline["name"] == "销售流程"
    assert _names(pipeline) == ["初步接触", "需求确认", "方案报价", "谈判", "赢单", "输单"]
    assert [s["kind"] for s in pipeline["stages"]] == ["open"] * 4 + ["won", "lost"]
    assert [s["probability"] for s in pipeline["stages"]] == [10, 30, 50, 70, 100, 0]
    assert [s["position"] for s in pipeline["stages"]] == [1, 2, 3, 4, 5, 6]


def test_an_english_speaking_owner_gets_english_stage_names(client: TestClient[Any]) -> None:
    response = client.post(
        "/api/v1/signup",
        json={
            "company_name": "Acme Ltd",
            "owner_name": "Ann",
            "email": unique_email("owner"),
            "password": PASSWORD,
            "locale": "en",
        },
    )
    assert response.status_code == 201, response.text
    pipeline = _default(client, bearer(response.json()["access_token"]))
    assert pipeline["name"] == "Sales pipeline"
    assert _names(pipeline) == [
        "Initial contact",
        "Needs confirmed",
        "Proposal",
        "Negotiation",
        "Won",
        "Lost",
    ]


# --- pipelines -----------------------------------------------------------------------------


def test_an_admin_creates_a_pipeline_with_its_own_stages(client: TestClient[Any]) -> None:
    owner = signup(client)
    stages = [
        {"name": "Discovery", "probability": 20, "rotting_days": 14},
        {"name": "Pilot", "probability": 60},
        {"name": "Signed", "probability": 100, "kind": "won"},
        {"name": "Dropped", "probability": 0, "kind": "lost"},
    ]
    created = _create(client, owner["headers"], "Enterprise", stages=stages)
    assert created["is_default"] is False
    assert _names(created) == ["Discovery", "Pilot", "Signed", "Dropped"]
    assert created["stages"][0]["rotting_days"] == 14

    shown = client.get(f"{PIPELINES}/{created['id']}", headers=owner["headers"])
    assert shown.status_code == 200
    assert shown.headers["etag"] == '"1"'
    assert shown.json() == created


@pytest.mark.parametrize(
    ("stages", "code"),
    [
        (
            [{"name": "Talk", "probability": 10}, {"name": "Lost", "probability": 0, "kind": "lost"}],
            "won_stage_count",
        ),
        (
            [
                {"name": "Talk", "probability": 10},
                {"name": "Won", "probability": 100, "kind": "won"},
                {"name": "Won again", "probability": 100, "kind": "won"},
                {"name": "Lost", "probability": 0, "kind": "lost"},
            ],
            "won_stage_count",
        ),
        (
            [
                {"name": "Won", "probability": 100, "kind": "won"},
                {"name": "Lost", "probability": 0, "kind": "lost"},
            ],
            "open_stage_required",
        ),
        (
            [
                {"name": "Won", "probability": 100, "kind": "won"},
                {"name": "Talk", "probability": 10},
                {"name": "Lost", "probability": 0, "kind": "lost"},
            ],
            "closed_stages_last",
        ),
        (
            [
                {"name": "Talk", "probability": 10},
                {"name": "Won", "probability": 90, "kind": "won"},
                {"name": "Lost", "probability": 0, "kind": "lost"},
            ],
            "closed_stage_probability",
        ),
    ],
)
def test_a_pipeline_that_breaks_the_won_lost_rule_is_refused(
    client: TestClient[Any], stages: list[dict[str, Any]], code: str
) -> None:
    owner = signup(client)
    response = client.post(PIPELINES, headers=owner["headers"], json={"name": "Broken", "stages": stages})
    body = _problem(response, 422, code)
    assert body["errors"][0]["field"] == "stages"
    assert len(client.get(PIPELINES, headers=owner["headers"]).json()["items"]) == 1


def test_bad_stage_input_names_the_field(client: TestClient[Any]) -> None:
    owner = signup(client)
    base = [
        {"name": "Won", "probability": 100, "kind": "won"},
        {"name": "Lost", "probability": 0, "kind": "lost"},
    ]
    kind = client.post(
        PIPELINES,
        headers=owner["headers"],
        json={"name": "X", "stages": [{"name": "Talk", "probability": 10, "kind": "maybe"}, *base]},
    )
    assert _problem(kind, 422, "invalid_choice")["errors"][0]["field"] == "stages[0].kind"
    twice = client.post(
        PIPELINES,
        headers=owner["headers"],
        json={
            "name": "X",
            "stages": [{"name": "Talk", "probability": 10}, {"name": "talk", "probability": 20}, *base],
        },
    )
    assert _problem(twice, 422, "duplicate_name")["errors"][0]["field"] == "stages[1].name"
    percent = client.post(
        PIPELINES,
        headers=owner["headers"],
        json={"name": "X", "stages": [{"name": "Talk", "probability": 120}, *base]},
    )
    assert percent.status_code == 422
    taken = client.post(PIPELINES, headers=owner["headers"], json={"name": "销售流程"})
    assert _problem(taken, 409, "name_taken")["errors"][0]["field"] == "name"


def test_renaming_follows_if_match(client: TestClient[Any]) -> None:
    owner = signup(client)
    pipeline = _default(client, owner["headers"])
    url = f"{PIPELINES}/{pipeline['id']}"
    stale = '"1"'
    renamed = client.patch(url, headers={**owner["headers"], "If-Match": stale}, json={"name": "直销"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.headers["etag"] == '"2"'
    assert renamed.json()["name"] == "直销"

    again = client.patch(url, headers={**owner["headers"], "If-Match": stale}, json={"name": "渠道"})
    _problem(again, 412, "version_mismatch")
    assert client.get(url, headers=owner["headers"]).json()["name"] == "直销"


def test_setting_the_default_moves_it_from_the_former_default(client: TestClient[Any]) -> None:
    owner = signup(client)
    seeded = _default(client, owner["headers"])
    other = _create(client, owner["headers"])
    response = client.post(f"{PIPELINES}/{other['id']}/default", headers=owner["headers"])
    assert response.status_code == 200, response.text
    assert response.json()["is_default"] is True
    assert _default(client, owner["headers"])["id"] == other["id"]
    former = client.get(f"{PIPELINES}/{seeded['id']}", headers=owner["headers"])
    assert former.json()["is_default"] is False
    assert former.headers["etag"] == '"2"'


def test_archiving_hides_a_pipeline_and_freezes_it(client: TestClient[Any]) -> None:
    owner = signup(client)
    seeded = _default(client, owner["headers"])
    refused = client.post(f"{PIPELINES}/{seeded['id']}/archive", headers=owner["headers"])
    _problem(refused, 409, "default_pipeline")

    other = _create(client, owner["headers"])
    archived = client.post(f"{PIPELINES}/{other['id']}/archive", headers=owner["headers"])
    assert archived.status_code == 200, archived.text
    assert archived.json()["archived_at"] is not None
    assert [p["id"] for p in client.get(PIPELINES, headers=owner["headers"]).json()["items"]] == [
        seeded["id"]
    ]
    everything = client.get(f"{PIPELINES}?archived=true", headers=owner["headers"]).json()["items"]
    assert {p["id"] for p in everything} == {seeded["id"], other["id"]}

    frozen = client.patch(f"{PIPELINES}/{other['id']}", headers=owner["headers"], json={"name": "Again"})
    _problem(frozen, 409, "pipeline_archived")
    not_default = client.post(f"{PIPELINES}/{other['id']}/default", headers=owner["headers"])
    _problem(not_default, 409, "pipeline_archived")
    # Its name is free again for a new pipeline.
    assert _create(client, owner["headers"], other["name"])["name"] == other["name"]


# --- stages --------------------------------------------------------------------------------


def test_a_new_stage_goes_before_the_won_and_lost_stages(client: TestClient[Any]) -> None:
    owner = signup(client)
    pipeline = _default(client, owner["headers"])
    url = f"{PIPELINES}/{pipeline['id']}/stages"
    added = client.post(
        url, headers={**owner["headers"], "If-Match": '"1"'}, json={"name": "合同审批", "probability": 90}
    )
    assert added.status_code == 201, added.text
    assert added.headers["etag"] == '"2"'
    assert _names(added.json()) == ["初步接触", "需求确认", "方案报价", "谈判", "合同审批", "赢单", "输单"]

    first = client.post(url, headers=owner["headers"], json={"name": "线索", "probability": 5, "position": 1})
    assert _names(first.json())[:2] == ["线索", "初步接触"]
    assert [s["position"] for s in first.json()["stages"]] == list(range(1, 9))

    past_closed = client.post(
        url, headers=owner["headers"], json={"name": "售后", "probability": 100, "position": 8}
    )
    assert _problem(past_closed, 422, "out_of_range")["errors"][0]["field"] == "position"
    second_won = client.post(
        url, headers=owner["headers"], json={"name": "又赢", "probability": 100, "kind": "won"}
    )
    _problem(second_won, 422, "won_stage_count")
    unknown_kind = client.post(
        url, headers=owner["headers"], json={"name": "也许", "probability": 5, "kind": "maybe"}
    )
    assert _problem(unknown_kind, 422, "invalid_choice")["errors"][0]["field"] == "kind"
    same_name = client.post(url, headers=owner["headers"], json={"name": "谈判", "probability": 70})
    _problem(same_name, 409, "name_taken")
    stale = client.post(
        url, headers={**owner["headers"], "If-Match": '"1"'}, json={"name": "迟到", "probability": 5}
    )
    _problem(stale, 412, "version_mismatch")
    assert len(client.get(f"{PIPELINES}/{pipeline['id']}", headers=owner["headers"]).json()["stages"]) == 8


def test_a_stage_is_renamed_and_reweighted_but_won_stays_at_100(client: TestClient[Any]) -> None:
    owner = signup(client)
    pipeline = _default(client, owner["headers"])
    stage, won = pipeline["stages"][1], pipeline["stages"][4]
    url = f"{PIPELINES}/{pipeline['id']}/stages"
    changed = client.patch(
        f"{url}/{stage['id']}",
        headers=owner["headers"],
        json={"name": "需求分析", "probability": 40, "rotting_days": 7},
    )
    assert changed.status_code == 200, changed.text
    updated = changed.json()["stages"][1]
    assert (updated["name"], updated["probability"], updated["rotting_days"]) == ("需求分析", 40, 7)
    assert changed.headers["etag"] == '"2"'

    refused = client.patch(f"{url}/{won['id']}", headers=owner["headers"], json={"probability": 80})
    _problem(refused, 422, "closed_stage_probability")
    missing = client.patch(
        f"{url}/01234567-89ab-7def-8123-456789abcdef", headers=owner["headers"], json={"name": "X"}
    )
    _problem(missing, 404, "not_found")


def test_reordering_takes_the_full_order_and_keeps_won_and_lost_last(client: TestClient[Any]) -> None:
    owner = signup(client)
    pipeline = _default(client, owner["headers"])
    ids = [s["id"] for s in pipeline["stages"]]
    url = f"{PIPELINES}/{pipeline['id']}/stages/order"

    new_order = [ids[3], ids[0], ids[1], ids[2], ids[5], ids[4]]
    reordered = client.put(
        url, headers={**owner["headers"], "If-Match": '"1"'}, json={"stage_ids": new_order}
    )
    assert reordered.status_code == 200, reordered.text
    assert _names(reordered.json()) == ["谈判", "初步接触", "需求确认", "方案报价", "输单", "赢单"]
    assert [s["position"] for s in reordered.json()["stages"]] == [1, 2, 3, 4, 5, 6]

    cases = [
        (new_order[:-1], "incomplete_order"),
        ([*new_order[:-1], new_order[0]], "duplicate_stage"),
        ([*new_order[:-1], "01234567-89ab-7def-8123-456789abcdef"], "unknown_stage"),
        ([ids[4], ids[0], ids[1], ids[2], ids[3], ids[5]], "closed_stages_last"),
    ]
    for stage_ids, code in cases:
        refused = client.put(url, headers=owner["headers"], json={"stage_ids": stage_ids})
        assert _problem(refused, 422, code)["errors"][0]["field"] == "stage_ids"
    assert _names(client.get(f"{PIPELINES}/{pipeline['id']}", headers=owner["headers"]).json()) == _names(
        reordered.json()
    )
    stale = client.put(url, headers={**owner["headers"], "If-Match": '"1"'}, json={"stage_ids": ids})
    _problem(stale, 412, "version_mismatch")


def test_removing_a_stage_keeps_the_rules(client: TestClient[Any]) -> None:
    owner = signup(client)
    pipeline = _default(client, owner["headers"])
    stages = pipeline["stages"]
    url = f"{PIPELINES}/{pipeline['id']}/stages"

    removed = client.delete(f"{url}/{stages[1]['id']}", headers={**owner["headers"], "If-Match": '"1"'})
    assert removed.status_code == 200, removed.text
    assert _names(removed.json()) == ["初步接触", "方案报价", "谈判", "赢单", "输单"]
    assert [s["position"] for s in removed.json()["stages"]] == [1, 2, 3, 4, 5]

    _problem(client.delete(f"{url}/{stages[4]['id']}", headers=owner["headers"]), 409, "won_stage_count")
    _problem(client.delete(f"{url}/{stages[5]['id']}", headers=owner["headers"]), 409, "lost_stage_count")
    for stage in (stages[0], stages[2]):
        assert client.delete(f"{url}/{stage['id']}", headers=owner["headers"]).status_code == 200
    last_open = client.delete(f"{url}/{stages[3]['id']}", headers=owner["headers"])
    _problem(last_open, 409, "open_stage_required")
    assert _names(client.get(f"{PIPELINES}/{pipeline['id']}", headers=owner["headers"]).json()) == [
        "谈判",
        "赢单",
        "输单",
    ]


# --- permissions and tenants ---------------------------------------------------------------


def test_a_rep_reads_pipelines_but_only_managers_and_admins_change_them(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    pipeline = _default(client, owner["headers"])
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    assert client.get(PIPELINES, headers=rep["headers"]).status_code == 200
    assert client.get(f"{PIPELINES}/{pipeline['id']}", headers=rep["headers"]).status_code == 200
    refused = client.patch(f"{PIPELINES}/{pipeline['id']}", headers=rep["headers"], json={"name": "Mine"})
    assert refused.status_code == 403
    assert client.post(PIPELINES, headers=rep["headers"], json={"name": "Mine"}).status_code == 403

    for role in ("sales_manager", "admin"):
        manager = add_member(client, settings, owner["tenant_id"], role)
        created = client.post(PIPELINES, headers=manager["headers"], json={"name": f"By {role}"})
        assert created.status_code == 201, created.text


def test_another_tenants_pipeline_is_not_found(client: TestClient[Any]) -> None:
    a = signup(client, "Tenant A")
    b = signup(client, "Tenant B")
    theirs = _default(client, a["headers"])
    missing = client.get(f"{PIPELINES}/01234567-89ab-7def-8123-456789abcdef", headers=b["headers"])
    for method, path, body in [
        ("get", "", None),
        ("patch", "", {"name": "Taken"}),
        ("post", "/default", None),
        ("post", "/archive", None),
        ("post", "/stages", {"name": "X", "probability": 10}),
        ("put", "/stages/order", {"stage_ids": [s["id"] for s in theirs["stages"]]}),
        ("patch", f"/stages/{theirs['stages'][0]['id']}", {"name": "X"}),
        ("delete", f"/stages/{theirs['stages'][0]['id']}", None),
    ]:
        response = client.request(
            method, f"{PIPELINES}/{theirs['id']}{path}", headers=b["headers"], json=body
        )
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["detail"] == missing.json()["detail"]
    assert _default(client, a["headers"]) == theirs
    assert theirs["id"] not in {p["id"] for p in client.get(PIPELINES, headers=b["headers"]).json()["items"]}


def test_every_pipeline_change_is_in_the_audit_log(client: TestClient[Any]) -> None:
    owner = signup(client)
    headers = owner["headers"]
    seeded = _default(client, headers)
    other = _create(client, headers)
    url = f"{PIPELINES}/{other['id']}"
    client.patch(url, headers=headers, json={"name": "Projects 2"})
    added = client.post(f"{url}/stages", headers=headers, json={"name": "Demo", "probability": 40}).json()
    demo = next(s for s in added["stages"] if s["name"] == "Demo")
    client.patch(f"{url}/stages/{demo['id']}", headers=headers, json={"name": "Live demo"})
    ids = [s["id"] for s in added["stages"]]
    client.put(f"{url}/stages/order", headers=headers, json={"stage_ids": [*ids[:-3][::-1], *ids[-3:]]})
    client.delete(f"{url}/stages/{demo['id']}", headers=headers)
    client.post(f"{url}/default", headers=headers)
    client.post(f"{PIPELINES}/{seeded['id']}/archive", headers=headers)

    entries = client.get("/api/v1/audit?limit=200", headers=headers).json()["items"]
    seen = {(e["entity_type"], e["action"], e["entity_id"]) for e in entries}
    assert ("pipelines", "create", other["id"]) in seen
    assert ("pipelines", "update", other["id"]) in seen
    assert ("pipelines", "update", seeded["id"]) in seen
    assert ("pipeline_stages", "create", demo["id"]) in seen
    assert ("pipeline_stages", "update", demo["id"]) in seen
    assert ("pipeline_stages", "delete", demo["id"]) in seen
    renamed = [e for e in entries if e["entity_id"] == other["id"] and "Projects 2" in str(e["changes"])]
    assert renamed, "the rename's diff is recorded"
