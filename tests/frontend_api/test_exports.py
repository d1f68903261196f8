"""Exports of customers, contacts, leads and opportunities: scope, masking, CSV for Chinese Excel, XLSX,
headers in the requester's language, and the audit entry of each export."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from core.kernel.settings import Settings
from tests.helpers import add_member, signup


@pytest.fixture
def owner(client: TestClient[Any]) -> dict[str, Any]:
    return signup(client, "Acme")


def _rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.content.startswith("\ufeff".encode())  # Excel reads UTF-8 only with a BOM
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def _customer(client: TestClient[Any], headers: dict[str, str], name: str, **fields: Any) -> dict[str, Any]:
    body = {"kind": "company", "name": name, **fields}
    response = client.post("/api/v1/customers", headers=headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _audit(settings: Settings) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_async_engine(settings.owner_database_url)
        try:
            async with engine.connect() as conn:
                sql = (
                    "SELECT action, actor_id, changes FROM audit_entries"
                    " WHERE action LIKE 'export.%' ORDER BY seq"
                )
                return list((await conn.execute(text(sql))).all())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_a_reps_export_holds_only_their_own_customers(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    _customer(client, owner["headers"], "老板的客户", phone="13800138000")
    _customer(client, rep["headers"], "销售的客户", phone="13900139000")
    rows = _rows(client.get("/api/v1/customers/export", headers=rep["headers"]))
    assert [r[0] for r in rows[1:]] == ["销售的客户"]
    everything = _rows(client.get("/api/v1/customers/export?sort=name", headers=owner["headers"]))
    assert sorted(r[0] for r in everything[1:]) == ["老板的客户", "销售的客户"]


def test_without_read_sensitive_personal_fields_are_masked_as_in_the_api(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    role = {"name": "Exporter", "grants": {"customers.read": "all", "imports.export": "all"}}
    assert client.post("/api/v1/roles", headers=owner["headers"], json=role).status_code == 201
    exporter = add_member(client, settings, owner["tenant_id"], "Exporter")
    created = _customer(
        client,
        owner["headers"],
        "甲公司",
        phone="13812345678",
        email="alice@example.com",
        address="北京市朝阳区建国路88号",
    )
    shown = client.get(f"/api/v1/customers/{created['id']}", headers=exporter["headers"]).json()
    rows = _rows(client.get("/api/v1/customers/export", headers=exporter["headers"]))
    header, line = rows[0], rows[1]
    values = dict(zip(header, line, strict=True))
    assert (values["手机"], values["邮箱"], values["地址"]) == (
        shown["phone"],
        shown["email"],
        shown["address"],
    )
    assert values["手机"] == "+86 138****5678"
    clear = dict(zip(*_rows(client.get("/api/v1/customers/export", headers=owner["headers"])), strict=True))
    assert clear["手机"] == "+8613812345678"


def test_the_export_takes_the_lists_filters_and_the_requesters_language(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    _customer(client, owner["headers"], "甲公司", level="A", tags=["vip", "north"])
    _customer(client, owner["headers"], "乙公司", level="B")
    chinese = _rows(client.get("/api/v1/customers/export?level=A", headers=owner["headers"]))
    assert chinese[0][:4] == ["客户名称", "客户类型", "客户级别", "阶段"]
    assert [(r[0], r[6]) for r in chinese[1:]] == [("甲公司", "vip, north")]
    english = _rows(
        client.get(
            "/api/v1/customers/export?level=A", headers={**owner["headers"], "Accept-Language": "en-US"}
        )
    )
    assert english[0][:3] == ["Name", "Kind", "Level"]


def test_an_xlsx_export_opens_with_the_same_rows(client: TestClient[Any], owner: dict[str, Any]) -> None:
    from openpyxl import load_workbook

    _customer(client, owner["headers"], "甲公司", phone="13800138000")
    response = client.get("/api/v1/customers/export?format=xlsx", headers=owner["headers"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "客户名称"
    assert (rows[1][0], rows[1][8]) == ("甲公司", "+8613800138000")
    bad = client.get("/api/v1/customers/export?format=pdf", headers=owner["headers"])
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "format")


def test_every_export_is_audited_with_its_filter_and_row_count(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    _customer(client, owner["headers"], "甲公司", phone="13800138000")
    _rows(client.get("/api/v1/customers/export?phone=13800138000&level=", headers=owner["headers"]))
    [entry] = _audit(settings)
    changes = entry.changes if isinstance(entry.changes, dict) else json.loads(entry.changes)
    assert entry.action == "export.customers"
    assert changes == {"format": "csv", "filter": {"phone": "[redacted]"}, "rows": 1, "masked": False}


def test_contacts_and_leads_are_exported_within_scope(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    _customer(client, owner["headers"], "甲公司", contacts=[{"name": "李雷", "phone": "13900139000"}])
    _customer(client, rep["headers"], "乙公司", contacts=[{"name": "韩梅梅"}])
    contacts = _rows(client.get("/api/v1/contacts/export", headers=rep["headers"]))
    assert contacts[0][:2] == ["客户名称", "姓名"]
    assert [r[:2] for r in contacts[1:]] == [["乙公司", "韩梅梅"]]
    assert (
        client.post(
            "/api/v1/leads", headers=owner["headers"], json={"name": "王五", "company": "丙"}
        ).status_code
        == 201
    )
    assert client.post("/api/v1/leads", headers=rep["headers"], json={"name": "赵六"}).status_code == 201
    leads = _rows(client.get("/api/v1/leads/export", headers=rep["headers"]))
    assert [r[0] for r in leads[1:]] == ["赵六"]
    assert len(_rows(client.get("/api/v1/leads/export", headers=owner["headers"]))) == 3


def _deal(
    client: TestClient[Any], headers: dict[str, str], customer_id: str, name: str, **fields: Any
) -> Any:
    body = {"name": name, "customer_id": customer_id, "currency": "CNY", **fields}
    response = client.post("/api/v1/opportunities", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_opportunities_are_exported_with_the_lists_filters_within_scope(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    other = signup(client, "Other Co")
    mine = _customer(client, rep["headers"], "乙公司")
    theirs = _customer(client, owner["headers"], "甲公司")
    _deal(client, rep["headers"], mine["id"], "销售的商机", amount="12000.50")
    _deal(client, owner["headers"], theirs["id"], "老板的商机", amount="800")
    won = _deal(client, owner["headers"], theirs["id"], "已赢的商机", amount="5000")
    assert (
        client.post(f"/api/v1/opportunities/{won['id']}/won", headers=owner["headers"], json={}).status_code
        == 200
    )
    _deal(client, other["headers"], _customer(client, other["headers"], "丁公司")["id"], "别家的商机")

    rows = _rows(client.get("/api/v1/opportunities/export", headers=rep["headers"]))
    assert rows[0][:6] == ["商机名称", "客户名称", "销售流程", "阶段", "状态", "金额"]
    assert [(r[0], r[1], r[4], r[5], r[6]) for r in rows[1:]] == [
        ("销售的商机", "乙公司", "open", "12000.50", "CNY")
    ]
    assert rows[1][11] == rep["email"]

    open_only = _rows(
        client.get(
            "/api/v1/opportunities/export?status=open",
            headers={**owner["headers"], "Accept-Language": "en"},
        )
    )
    assert open_only[0][:2] == ["Name", "Customer"]
    assert sorted(r[0] for r in open_only[1:]) == ["老板的商机", "销售的商机"]
    xlsx = client.get("/api/v1/opportunities/export?format=xlsx&status=won", headers=owner["headers"])
    assert xlsx.status_code == 200, xlsx.text
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True).active
    assert sheet is not None
    assert [row[0] for row in sheet.iter_rows(values_only=True)][1:] == ["已赢的商机"]
    refused = client.get("/api/v1/opportunities/export?status=maybe", headers=owner["headers"])
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "status"


def test_a_viewer_without_the_export_permission_is_refused(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    viewer = add_member(client, settings, owner["tenant_id"], "viewer")
    assert client.get("/api/v1/customers/export", headers=viewer["headers"]).status_code == 403
