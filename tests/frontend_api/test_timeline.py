"""A customer's timeline: its activities and the events about it, newest first, paged; entries
written after commit by idempotent handlers, moved on a merge and dropped with the customer."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from core.kernel.settings import Settings
from frontend_api.app import create_app
from tests.frontend_api import test_customers as customer_tests
from tests.frontend_api.test_customers import _create, _raw
from tests.helpers import add_member, signup

owner = customer_tests.owner
sales = customer_tests.sales

CUSTOMERS = "/api/v1/customers"
API = "/api/v1/activities"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Litestar]]:
    """An app running the in-process worker: timeline entries are written by handlers."""
    app = create_app(dataclasses.replace(settings, background_jobs=True))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _drain(client: TestClient[Any]) -> None:
    app: Any = client.app
    client.blocking_portal.call(app.state.jobs.drain)


def _execute(settings: Settings, sql: str) -> None:
    async def run() -> None:
        engine = create_async_engine(settings.owner_database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(run())


def _log(client: TestClient[Any], headers: dict[str, str], customer_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "kind": "call",
        "subject_type": "customer",
        "subject_id": customer_id,
        "subject": "Call",
        **fields,
    }
    response = client.post(API, headers=headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _timeline(client: TestClient[Any], headers: dict[str, str], customer_id: str, **params: Any) -> Any:
    response = client.get(f"{CUSTOMERS}/{customer_id}/timeline", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _lines(page: Any) -> list[tuple[str, str]]:
    return [
        (i["type"], i["activity"]["subject"] if i["type"] == "activity" else i["entry"]["event"])
        for i in page["items"]
    ]


def test_the_timeline_lists_activities_and_events_newest_first_in_pages(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    headers = owner["headers"]
    customer = _create(client, headers, phone="13800138000")
    _log(client, headers, customer["id"], subject="First call", occurred_at="2026-01-01T09:00:00+00:00")
    client.patch(f"{CUSTOMERS}/{customer['id']}", headers=headers, json={"level": "A"})
    client.post(f"{CUSTOMERS}/{customer['id']}/contacts", headers=headers, json={"name": "Ann"})
    _log(client, headers, customer["id"], subject="Second call")
    _drain(client)

    page = _timeline(client, headers, customer["id"])
    assert _lines(page)[:3] == [
        ("activity", "Second call"),
        ("event", "customers.contact_created"),
        ("event", "customers.updated"),
    ]
    assert _lines(page)[3:] == [("event", "customers.created"), ("activity", "First call")]
    times = [i["occurred_at"] for i in page["items"]]
    assert times == sorted(times, reverse=True)
    updated = page["items"][2]["entry"]
    assert updated["data"] == {"customer_id": customer["id"], "fields": ["level"]}
    assert updated["ref_type"] == "customer"
    assert updated["ref_id"] == customer["id"]
    contact = page["items"][1]["entry"]
    assert contact["ref_type"] == "contact"
    assert "13800138000" not in repr(page)
    first = _timeline(client, headers, customer["id"], limit=2)
    second = _timeline(client, headers, customer["id"], limit=2, cursor=first["next_cursor"])
    third = _timeline(client, headers, customer["id"], limit=2, cursor=second["next_cursor"])
    assert [*_lines(first), *_lines(second), *_lines(third)] == _lines(page)
    assert third["next_cursor"] is None


def test_a_redelivered_event_adds_no_second_entry(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    headers = owner["headers"]
    customer = _create(client, headers)
    _drain(client)
    assert len(_raw(settings, "SELECT id FROM timeline_entries")) == 1
    # Redelivered (the processed record is kept), then delivered as if never seen (it is not).
    _execute(settings, "UPDATE outbox_messages SET dispatched_at = NULL")
    _drain(client)
    _execute(settings, "DELETE FROM processed_messages")
    _execute(settings, "UPDATE outbox_messages SET dispatched_at = NULL")
    _drain(client)
    assert len(_raw(settings, "SELECT id FROM timeline_entries")) == 1
    assert len(_timeline(client, headers, customer["id"])["items"]) == 1


def test_a_merge_moves_the_merged_customers_activities_and_entries_to_the_survivor(
    client: TestClient[Any], owner: dict[str, Any]
) -> None:
    headers = owner["headers"]
    survivor = _create(client, headers, name="Globex")
    merged = _create(client, headers, name="Globex Ltd", contacts=[{"name": "Ann"}])
    call = _log(client, headers, merged["id"], subject="Call to the duplicate")
    _drain(client)
    done = client.post(
        f"{CUSTOMERS}/{survivor['id']}/merge", headers=headers, json={"other_id": merged["id"]}
    )
    assert done.status_code == 200, done.text
    _drain(client)

    moved = client.get(f"{API}/{call['id']}", headers=headers).json()
    assert moved["customer_id"] == survivor["id"]
    assert moved["subject_id"] == survivor["id"]
    events = [line for kind, line in _lines(_timeline(client, headers, survivor["id"])) if kind == "event"]
    assert events.count("customers.created") == 2
    assert "customers.contact_created" in events
    assert events[0] == "customers.merged"
    assert ("activity", "Call to the duplicate") in _lines(_timeline(client, headers, survivor["id"]))


def test_deleting_a_customer_drops_its_activities_and_timeline(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    headers = owner["headers"]
    customer = _create(client, headers)
    kept = _create(client, headers, name="Initech")
    _log(client, headers, customer["id"], body="personal notes")
    other = _log(client, headers, kept["id"])
    _drain(client)
    assert client.delete(f"{CUSTOMERS}/{customer['id']}", headers=headers).status_code == 204
    _drain(client)
    assert [a["id"] for a in client.get(API, headers=headers).json()["items"]] == [other["id"]]
    rows = _raw(settings, "SELECT customer_id FROM timeline_entries")
    assert {str(r.customer_id).replace("-", "") for r in rows} == {kept["id"].replace("-", "")}


def test_a_rep_gets_404_on_a_colleagues_timeline_and_another_tenant_too(
    client: TestClient[Any], owner: dict[str, Any], sales: dict[str, Any], settings: Settings
) -> None:
    rep, colleague, manager = sales["rep"], sales["colleague"], sales["manager"]
    theirs = _create(client, colleague["headers"], name="Theirs")
    mine = _create(client, rep["headers"], name="Mine")
    _log(client, manager["headers"], mine["id"], subject="Manager's call")
    _drain(client)
    missing = client.get(f"{CUSTOMERS}/01234567-89ab-7def-8123-456789abcdef/timeline", headers=rep["headers"])
    refused = client.get(f"{CUSTOMERS}/{theirs['id']}/timeline", headers=rep["headers"])
    assert refused.status_code == 404
    assert refused.json()["detail"] == missing.json()["detail"]
    # The rep's own customer shows everything about it, the manager's call included.
    assert ("activity", "Manager's call") in _lines(_timeline(client, rep["headers"], mine["id"]))
    other = signup(client, "Other")
    assert client.get(f"{CUSTOMERS}/{mine['id']}/timeline", headers=other["headers"]).status_code == 404
    # Without activities.read (a viewer) the timeline shows the events only.
    viewer = add_member(client, settings, owner["tenant_id"], "viewer")
    assert {kind for kind, _ in _lines(_timeline(client, viewer["headers"], mine["id"]))} == {"event"}


def test_activities_about_a_lead_and_its_conversion_reach_the_customers_timeline(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client, "Leads")
    headers = owner["headers"]
    lead = client.post("/api/v1/leads", headers=headers, json={"name": "Li Lei", "company": "Globex"}).json()
    call = client.post(
        API,
        headers=headers,
        json={"kind": "call", "subject_type": "lead", "subject_id": lead["id"], "subject": "First call"},
    )
    assert call.status_code == 201, call.text
    assert call.json()["customer_id"] is None  # not a customer yet
    converted = client.post(f"/api/v1/leads/{lead['id']}/convert", headers=headers, json={})
    assert converted.status_code == 200, converted.text
    customer_id = converted.json()["customer_id"]
    followup = client.post(
        API,
        headers=headers,
        json={"kind": "visit", "subject_type": "lead", "subject_id": lead["id"], "subject": "Visit"},
    )
    assert followup.json()["customer_id"] == customer_id
    _drain(client)
    lines = _lines(_timeline(client, headers, customer_id))
    assert ("event", "leads.converted") in lines
    assert ("activity", "Visit") in lines
    # A rep who cannot see the lead cannot log against it either.
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    hidden = client.post(
        API,
        headers=rep["headers"],
        json={"kind": "call", "subject_type": "lead", "subject_id": lead["id"], "subject": "Sneaky"},
    )
    assert hidden.status_code == 404
    assert hidden.json()["errors"][0]["field"] == "subject_id"
