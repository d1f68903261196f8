"""Imports through the API: upload (CSV in UTF-8 / GBK, XLSX), automatic column mapping,
dry run with row errors, the duplicate policies, progress, resume, undo, scope and audit."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from core.kernel.settings import Settings
from frontend_api.app import create_app
from tests.helpers import add_member, signup

API = "/api/v1/imports"
HEADER = "客户名称,手机,邮箱,地址,联系人,客户级别,来源,行业,标签,备注\n"


@pytest.fixture
def app(settings: Settings) -> Litestar:
    """Jobs run in the app (drained by the tests); three rows per batch, so small files
    already take several batches. The relay is woken by each commit; its poll (which a test
    that switches the wake-ups off is left with) is slow enough never to come mid-test."""
    return create_app(
        dataclasses.replace(
            settings,
            background_jobs=True,
            import_batch_rows=3,
            rate_limit_enabled=False,
            relay_interval_ms=120_000,
        )
    )


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def owner(client: TestClient[Any]) -> dict[str, Any]:
    return signup(client, "Acme")


def drain(client: TestClient[Any]) -> None:
    client.blocking_portal.call(client.app.state.jobs.drain)  # type: ignore[attr-defined]


def raw(settings: Settings, sql: str) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_async_engine(settings.owner_database_url)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(text(sql))).all())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def upload(
    client: TestClient[Any],
    headers: dict[str, str],
    content: bytes,
    *,
    filename: str = "customers.csv",
    **fields: Any,
) -> Any:
    form = {
        "entity": "customer",
        **{k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()},
    }
    return client.post(API, headers=headers, files={"file": (filename, content, "text/csv")}, data=form)


def imported(
    client: TestClient[Any], headers: dict[str, str], content: bytes, **fields: Any
) -> dict[str, Any]:
    response = upload(client, headers, content, **fields)
    assert response.status_code == 202, response.text
    drain(client)
    shown = client.get(f"{API}/{response.json()['id']}", headers=headers)
    assert shown.status_code == 200, shown.text
    result: dict[str, Any] = shown.json()
    return result


def errors(client: TestClient[Any], headers: dict[str, str], import_id: str) -> list[dict[str, Any]]:
    response = client.get(f"{API}/{import_id}/errors?limit=200&sort=row", headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def customers(client: TestClient[Any], headers: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get("/api/v1/customers?limit=200&sort=name", headers=headers).json()[
        "items"
    ]
    return items


# --- mapping and formats ---------------------------------------------------------------------


def test_chinese_and_english_headers_are_mapped_and_unknown_ones_listed(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    content = "客户名称,手机号,电子邮件,联系地址,Contact,Level,渠道,Industry,Tags,备注\n".encode()
    response = upload(client, owner["headers"], content)
    assert response.status_code == 202, response.text
    columns = {c["header"]: c["field"] for c in response.json()["columns"]}
    assert columns == {
        "客户名称": "name",
        "手机号": "phone",
        "电子邮件": "email",
        "联系地址": "address",
        "Contact": "contact_name",
        "Level": "level",
        "渠道": "source",
        "Industry": "industry",
        "Tags": "tags",
        "备注": None,
    }
    assert response.json()["unmapped"] == ["备注"]

    english = upload(client, owner["headers"], b"Company Name,Mobile,E-mail,Owner (email)\n").json()
    assert [c["field"] for c in english["columns"]] == ["name", "phone", "email", "owner"]


def test_the_mapping_is_overridden_in_the_request(client: TestClient[Any], owner: dict[str, Any]) -> None:
    content = "Firma,Nummer,备注\nGlobex,13800138000,x\n".encode()
    done = imported(
        client,
        owner["headers"],
        content,
        dry_run="false",
        mapping={"Firma": "name", "1": "phone", "备注": None},
    )
    assert done["status"] == "done", done
    assert [c["field"] for c in done["columns"]] == ["name", "phone", None]
    assert [(c["name"], c["phone"]) for c in customers(client, owner["headers"])] == [
        ("Globex", "+8613800138000")
    ]

    bad = upload(client, owner["headers"], content, mapping={"Firma": "nonsense"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "mapping.Firma"


def test_a_custom_field_is_mapped_by_its_label(client: TestClient[Any], owner: dict[str, Any]) -> None:
    field = {
        "key": "budget",
        "label": {"zh-CN": "预算", "en": "Budget"},
        "type": "number",
    }
    created = client.post("/api/v1/custom-fields/customer", headers=owner["headers"], json=field)
    assert created.status_code == 201, created.text
    done = imported(client, owner["headers"], "客户名称,预算\n甲公司,1200\n".encode(), dry_run="false")
    assert done["columns"][1]["field"] == "custom_fields.budget"
    assert customers(client, owner["headers"])[0]["custom_fields"] == {"budget": 1200}


def test_a_gbk_csv_from_chinese_excel_is_read(client: TestClient[Any], owner: dict[str, Any]) -> None:
    content = (
        HEADER + "北京甲公司,13800138000,a@example.com,北京市朝阳区建国路88号,李雷,A,展会,制造,重点,\n"
    ).encode("gbk")
    done = imported(client, owner["headers"], content, dry_run="false")
    assert (done["encoding"], done["status"], done["created"]) == ("gb18030", "done", 1)
    [customer] = customers(client, owner["headers"])
    assert (customer["name"], customer["address"], customer["tags"]) == (
        "北京甲公司",
        "北京市朝阳区建国路88号",
        ["重点"],
    )
    contacts = client.get(f"/api/v1/customers/{customer['id']}/contacts", headers=owner["headers"]).json()
    assert [(c["name"], c["is_primary"]) for c in contacts] == [("李雷", True)]


def test_a_utf8_csv_with_a_bom_is_read(client: TestClient[Any], owner: dict[str, Any]) -> None:
    done = imported(
        client, owner["headers"], "\ufeff客户名称,手机\n乙公司,13900139000\n".encode(), dry_run="false"
    )
    assert (done["encoding"], done["columns"][0]["field"], done["created"]) == ("utf-8-sig", "name", 1)


def xlsx(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_an_xlsx_sheet_is_read_with_numbers_as_phone_numbers(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    content = xlsx(
        [
            ["客户名称", "手机", "客户级别"],
            ["丙公司", 13800138000, "B"],
            [None, None, None],
            ["丁公司", None, "C"],
        ]
    )
    done = imported(client, owner["headers"], content, filename="客户.xlsx", dry_run="false")
    assert (done["file_format"], done["total_rows"], done["created"], done["failed"]) == ("xlsx", 3, 2, 0)
    assert [(c["name"], c["phone"], c["level"]) for c in customers(client, owner["headers"])] == [
        ("丁公司", None, "C"),
        ("丙公司", "+8613800138000", "B"),
    ]


def test_an_old_xls_file_is_refused_with_a_reason(client: TestClient[Any], owner: dict[str, Any]) -> None:
    response = upload(
        client, owner["headers"], b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, filename="a.xls"
    )
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["errors"][0]["field"]) == ("unsupported_format", "file")


def test_an_upload_over_the_import_limit_is_refused(settings: Settings) -> None:
    small = create_app(dataclasses.replace(settings, import_max_bytes=1000, rate_limit_enabled=False))
    with TestClient(small) as client:
        owner = signup(client, "Acme")
        response = upload(client, owner["headers"], HEADER.encode() * 200)
        assert response.status_code == 413, response.text
        assert response.json()["code"] == "body_too_large"
        # Bigger than the API's general body limit is fine for an import under its own limit.
    big = create_app(dataclasses.replace(settings, max_body_bytes=2000, rate_limit_enabled=False))
    with TestClient(big) as client:
        owner = signup(client, "Acme")
        assert (
            upload(client, owner["headers"], (HEADER + "x公司,,,,,,,,,\n" * 100).encode()).status_code == 202
        )


# --- dry run ----------------------------------------------------------------------------------


def test_a_dry_run_reports_every_bad_row_with_its_number_and_column_and_writes_nothing(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    content = (
        HEADER
        + "好公司,13800138000,good@example.com,,,,,,,\n"
        + "坏电话,12,,,,,,,,\n"
        + "坏邮箱,,not-an-email,,,,,,,\n"
        + ",13900139000,,,,,,,,\n"
        + "长级别,,,,,ABCDEFGHIJKLMNOPQRSTUVWXYZ,,,,\n"
    ).encode()
    done = imported(client, owner["headers"], content)
    assert (done["status"], done["dry_run"], done["total_rows"], done["processed_rows"]) == (
        "validated",
        True,
        5,
        5,
    )
    assert (done["created"], done["failed"]) == (1, 4)
    found = [
        (e["row"], e["column"], e["field"], e["code"]) for e in errors(client, owner["headers"], done["id"])
    ]
    assert found == [
        (3, "手机", "phone", "invalid_phone"),
        (4, "邮箱", "email", "invalid_email"),
        (5, "客户名称", "name", "required"),
        (6, "客户级别", "level", "validation_failed"),
    ]
    assert raw(settings, "SELECT id FROM customers") == []
    csv_errors = client.get(f"{API}/{done['id']}/errors.csv", headers=owner["headers"])
    assert csv_errors.status_code == 200
    assert csv_errors.content.startswith("\ufeffrow,column,field,code,reason".encode())
    assert "invalid_phone" in csv_errors.text


def test_a_validated_import_runs_for_real_with_the_same_file(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    content = (HEADER + "甲,13800138000,,,,,,,,\n乙,12,,,,,,,,\n").encode()
    validated = imported(client, owner["headers"], content)
    response = client.post(f"{API}/{validated['id']}/run", headers=owner["headers"], json={})
    assert response.status_code == 202, response.text
    drain(client)
    done = client.get(f"{API}/{validated['id']}", headers=owner["headers"]).json()
    assert (done["status"], done["created"], done["failed"]) == ("done", 1, 1)
    assert [e["row"] for e in errors(client, owner["headers"], done["id"])] == [3]
    again = client.post(f"{API}/{validated['id']}/run", headers=owner["headers"], json={})
    assert again.status_code == 409


# --- duplicates -------------------------------------------------------------------------------


def _existing(client: TestClient[Any], headers: dict[str, str]) -> dict[str, Any]:
    response = client.post(
        "/api/v1/customers",
        headers=headers,
        json={"kind": "company", "name": "老客户", "phone": "13800138000", "level": "C"},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


DUPLICATES = (
    HEADER
    + "新名字,+86 138-0013-8000,,,,A,,,,\n"  # the existing customer's phone, written differently
    + "老客户,,,,,B,,,,\n"  # the existing company's name
    + "新公司,13900139000,,,,,,,,\n"
    + "新公司二,13900139000,,,,,,,,\n"  # the same phone as the row before (in the file)
).encode()


def test_policy_skip_leaves_duplicates_alone_and_lists_them(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    existing = _existing(client, owner["headers"])
    done = imported(client, owner["headers"], DUPLICATES, dry_run="false", policy="skip")
    assert (done["created"], done["skipped"], done["updated"], done["failed"]) == (1, 3, 0, 0)
    assert sorted(c["name"] for c in customers(client, owner["headers"])) == ["新公司", "老客户"]
    assert client.get(f"/api/v1/customers/{existing['id']}", headers=owner["headers"]).json()["level"] == "C"
    assert [(e["row"], e["code"]) for e in errors(client, owner["headers"], done["id"])] == [
        (2, "duplicate"),
        (3, "duplicate"),
        (5, "duplicate"),
    ]


def test_policy_update_updates_the_existing_customer_and_later_rows_win(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    existing = _existing(client, owner["headers"])
    done = imported(client, owner["headers"], DUPLICATES, dry_run="false", policy="update")
    assert (done["created"], done["updated"], done["skipped"], done["failed"]) == (1, 3, 0, 0)
    listed = {c["name"]: c for c in customers(client, owner["headers"])}
    assert set(listed) == {"新公司", "老客户"}  # row 5 updated row 4's 新公司 (same phone; names stay)
    assert listed["老客户"]["level"] == "B"  # row 2 then row 3 updated it; the later row wins
    assert listed["老客户"]["id"] == existing["id"]


def test_policy_create_keeps_every_row(client: TestClient[Any], owner: dict[str, Any]) -> None:
    _existing(client, owner["headers"])
    done = imported(client, owner["headers"], DUPLICATES, dry_run="false", policy="create")
    assert (done["created"], done["updated"], done["skipped"]) == (4, 0, 0)
    assert len(customers(client, owner["headers"])) == 5


def test_a_dry_run_finds_duplicates_within_the_file_across_batches(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    rows = "".join(f"公司{i},1390013900{i},,,,,,,,\n" for i in range(5)) + "重复,13900139001,,,,,,,,\n"
    done = imported(client, owner["headers"], (HEADER + rows).encode(), policy="skip")
    assert (done["created"], done["skipped"]) == (5, 1)
    assert [e["row"] for e in errors(client, owner["headers"], done["id"])] == [7]


# --- progress, resume ------------------------------------------------------------------------


def test_progress_and_resume_after_an_interrupted_run(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    from core.imports.runner import run_import

    rows = "".join(f"公司{i:02},1380013{i:04},,,,,,,,\n" for i in range(10))
    # Nothing relays the import's job before the worker below "dies": only the drain does.
    client.blocking_portal.call(client.app.state.jobs.wakeup.stop)  # type: ignore[attr-defined]
    created = upload(client, owner["headers"], (HEADER + rows).encode(), dry_run="false")
    assert created.status_code == 202
    import_id = created.json()["id"]
    services = client.app.state.services  # type: ignore[attr-defined]
    tenant = __import__("uuid").UUID(owner["tenant_id"])
    # A worker that stops after two batches (it died), then the job's retry:
    finished = client.blocking_portal.call(
        lambda: run_import(
            services.db, tenant, __import__("uuid").UUID(import_id), batch_size=3, max_batches=2
        )
    )
    assert finished is False
    progress = client.get(f"{API}/{import_id}", headers=owner["headers"]).json()
    assert (progress["status"], progress["processed_rows"], progress["total_rows"], progress["created"]) == (
        "running",
        6,
        10,
        6,
    )
    drain(client)  # the queued job continues from the committed cursor
    done = client.get(f"{API}/{import_id}", headers=owner["headers"]).json()
    assert (done["status"], done["processed_rows"], done["created"]) == ("done", 10, 10)
    assert len(customers(client, owner["headers"])) == 10
    assert raw(settings, "SELECT count(*) FROM import_chunks")[0][0] == 0  # the file is gone once done


# --- undo ------------------------------------------------------------------------------------


def test_undo_removes_created_restores_updated_and_keeps_changed_records(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    headers = owner["headers"]
    existing = _existing(client, headers)
    content = (HEADER + "老客户,,,,,A,,,,\n新甲,13900139000,,,李雷,,,,,\n新乙,13700137000,,,,,,,,\n").encode()
    done = imported(client, headers, content, dry_run="false", policy="update")
    assert (done["created"], done["updated"]) == (2, 1)
    by_name = {c["name"]: c for c in customers(client, headers)}
    touched = client.patch(
        f"/api/v1/customers/{by_name['新乙']['id']}", headers=headers, json={"level": "VIP"}
    )
    assert touched.status_code == 200

    response = client.post(f"{API}/{done['id']}/undo", headers=headers)
    assert response.status_code == 202, response.text
    drain(client)
    undone = client.get(f"{API}/{done['id']}", headers=headers).json()
    assert (undone["status"], undone["undone"], undone["kept"]) == ("undone", 3, 1)
    listed = {c["name"]: c for c in customers(client, headers)}
    assert set(listed) == {"老客户", "新乙"}  # 新甲 and its contact are gone; 新乙 was changed since
    assert (listed["老客户"]["id"], listed["老客户"]["level"]) == (existing["id"], "C")  # restored
    assert raw(settings, "SELECT count(*) FROM contacts")[0][0] == 0
    actions = [r[0] for r in raw(settings, "SELECT action FROM audit_entries ORDER BY seq")]
    assert "import.undone" in actions
    assert client.post(f"{API}/{done['id']}/undo", headers=headers).status_code == 409


# --- scope, permissions, audit --------------------------------------------------------------


def test_a_sales_rep_may_not_import_and_another_managers_import_is_not_found(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    assert upload(client, rep["headers"], HEADER.encode()).status_code == 403
    manager = add_member(client, settings, owner["tenant_id"], "sales_manager")
    theirs = upload(client, manager["headers"], HEADER.encode())
    assert theirs.status_code == 202, theirs.text
    assert client.get(f"{API}/{theirs.json()['id']}", headers=owner["headers"]).status_code == 200
    mine = upload(client, owner["headers"], HEADER.encode()).json()
    assert client.get(f"{API}/{mine['id']}", headers=manager["headers"]).status_code == 404
    assert client.get(f"{API}/{mine['id']}", headers=owner["headers"]).status_code == 200
    other = signup(client, "Other")
    for method, path in (
        ("get", ""),
        ("get", "/errors"),
        ("get", "/errors.csv"),
        ("post", "/run"),
        ("post", "/undo"),
    ):
        assert (
            client.request(method, f"{API}/{mine['id']}{path}", headers=other["headers"], json={}).status_code
            == 404
        )


def test_imports_are_audited_as_the_uploader_with_personal_data_redacted(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    done = imported(
        client, owner["headers"], (HEADER + "审计公司,13800138000,,,,,,,,\n").encode(), dry_run="false"
    )
    entries = raw(
        settings,
        "SELECT action, entity_type, actor_type, actor_id, request_id, changes"
        " FROM audit_entries ORDER BY seq",
    )
    created = [e for e in entries if e.entity_type == "customers" and e.action == "create"]
    assert len(created) == 1
    assert (created[0].actor_type, created[0].request_id) == ("user", f"import:{done['id']}")
    changes = created[0].changes if isinstance(created[0].changes, dict) else json.loads(created[0].changes)
    assert changes["after"]["phone"] == "[redacted]"
    assert any(e.entity_type == "imports" and e.action == "create" for e in entries)
    # The file's chunks and the row report are not business records: no entries for them.
    assert not any(e.entity_type in {"import_chunks", "import_errors", "import_records"} for e in entries)
    # A file waiting for its run is stored encrypted: neither its text nor its values show.
    content = (HEADER + "审计公司,13800138000,,,,,,,,\n").encode()
    assert upload(client, owner["headers"], content).status_code == 202
    stored = [bytes(r[0]) for r in raw(settings, "SELECT data FROM import_chunks")]
    assert stored
    assert all(b"13800138000" not in data and "客户名称".encode() not in data for data in stored)


# --- leads and contacts ----------------------------------------------------------------------


def test_leads_are_imported_with_owners_by_email_and_duplicates_skipped(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    existing = client.post(
        "/api/v1/leads", headers=owner["headers"], json={"name": "老线索", "phone": "13800138000"}
    )
    assert existing.status_code == 201
    content = (
        "姓名,公司,手机,邮箱,来源,地区,备注,负责人\n"
        f"王五,丙公司,13900139000,wang@example.com,展会,华北,想要报价,{rep['email']}\n"
        "赵六,,138-0013-8000,,,,,\n"  # the existing lead's phone
        "钱七,,,,,,,nobody@example.com\n"  # no such member
    ).encode()
    done = imported(client, owner["headers"], content, entity="lead", dry_run="false", policy="skip")
    assert (done["created"], done["skipped"], done["failed"]) == (1, 1, 1)
    assert [(e["row"], e["field"], e["code"]) for e in errors(client, owner["headers"], done["id"])] == [
        (3, None, "duplicate"),
        (4, "owner", "unknown_owner"),
    ]
    [lead] = client.get("/api/v1/leads?q=王五", headers=rep["headers"]).json()["items"]
    assert (lead["company"], lead["source"], lead["region"], lead["message"]) == (
        "丙公司",
        "展会",
        "华北",
        "想要报价",
    )


def test_contacts_are_imported_onto_their_customers_by_name(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    customer = _existing(client, owner["headers"])
    first = client.post(
        f"/api/v1/customers/{customer['id']}/contacts",
        headers=owner["headers"],
        json={"name": "李雷", "phone": "13900139000", "title": "采购"},
    )
    assert first.status_code == 201
    content = (
        "客户名称,姓名,职务,手机\n"
        "老客户,韩梅梅,经理,13700137000\n"
        "老客户,李雷,总监,13900139000\n"  # the same contact: updated
        "没有的公司,张三,,\n"
    ).encode()
    done = imported(client, owner["headers"], content, entity="contact", dry_run="false", policy="update")
    assert (done["created"], done["updated"], done["failed"]) == (1, 1, 1)
    assert [(e["row"], e["column"], e["code"]) for e in errors(client, owner["headers"], done["id"])] == [
        (4, "客户名称", "unknown_customer")
    ]
    contacts = client.get(f"/api/v1/customers/{customer['id']}/contacts", headers=owner["headers"]).json()
    assert sorted((c["name"], c["title"]) for c in contacts) == [("李雷", "总监"), ("韩梅梅", "经理")]
    undo = client.post(f"{API}/{done['id']}/undo", headers=owner["headers"])
    assert undo.status_code == 202
    drain(client)
    contacts = client.get(f"/api/v1/customers/{customer['id']}/contacts", headers=owner["headers"]).json()
    assert [(c["name"], c["title"]) for c in contacts] == [("李雷", "采购")]


@pytest.mark.postgres  # SQLite has no row locks: its single writer serializes whole transactions
def test_two_workers_on_one_import_write_each_row_once(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    """A redelivered job running beside the first one: the batches queue on the import's row,
    and a worker that finds the cursor moved by the other stops."""
    import uuid

    from core.imports.runner import run_import

    rows = "".join(f"并发{i:02},1370013{i:04},,,,,,,,\n" for i in range(30))
    import_id = uuid.UUID(
        upload(client, owner["headers"], (HEADER + rows).encode(), dry_run="false").json()["id"]
    )
    db = client.app.state.services.db  # type: ignore[attr-defined]
    tenant = uuid.UUID(owner["tenant_id"])

    async def both() -> None:
        await asyncio.gather(
            run_import(db, tenant, import_id, batch_size=3), run_import(db, tenant, import_id, batch_size=3)
        )

    client.blocking_portal.call(both)  # beside the queued job itself: three workers
    drain(client)
    done = client.get(f"{API}/{import_id}", headers=owner["headers"]).json()
    assert (done["status"], done["processed_rows"], done["created"], done["skipped"]) == ("done", 30, 30, 0)
    assert raw(settings, "SELECT count(*) FROM customers")[0][0] == 30
    events = [r[0] for r in raw(settings, "SELECT name FROM outbox_messages")]
    assert events.count("imports.finished") == 1
    assert events.count("customers.created") == 30


def test_an_upload_without_an_entity_or_a_file_names_what_is_missing(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    no_entity = client.post(
        API, headers=owner["headers"], files={"file": ("a.csv", HEADER.encode(), "text/csv")}, data={}
    )
    assert (no_entity.status_code, no_entity.json()["errors"][0]["field"]) == (422, "entity")
    no_file = client.post(API, headers=owner["headers"], files={"other": ("a.csv", b"x", "text/csv")})
    assert (no_file.status_code, no_file.json()["errors"][0]["field"]) == (422, "file")
    wrong = upload(client, owner["headers"], HEADER.encode(), entity="order")
    assert (wrong.status_code, wrong.json()["code"]) == (422, "invalid_choice")


@pytest.mark.postgres  # SQLite stores a NUL character; PostgreSQL refuses it in text
def test_a_batch_the_database_refuses_is_retried_row_by_row(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    content = (HEADER + "甲公司,,,,,,,,,\n乙\x00公司,,,,,,,,,\n丙公司,,,,,,,,,\n").encode()
    done = imported(client, owner["headers"], content, dry_run="false")
    assert (done["status"], done["created"], done["failed"]) == ("done", 2, 1)
    assert [(e["row"], e["code"]) for e in errors(client, owner["headers"], done["id"])] == [
        (3, "write_failed")
    ]
    assert sorted(c["name"] for c in customers(client, owner["headers"])) == ["丙公司", "甲公司"]
