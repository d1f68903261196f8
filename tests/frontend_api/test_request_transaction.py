"""One transaction per member request: the guard resolves the caller in the transaction the
handler then continues; nothing is left open when the request fails on the way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import event

from tests.helpers import add_member, signup

API = "/api/v1/customers"


@pytest.fixture
def begins(app: Litestar) -> Iterator[list[object]]:
    """Every transaction the app's engine begins while the test runs."""
    seen: list[object] = []
    engine = app.state.services.db.engine.sync_engine

    def began(conn: Any) -> None:
        seen.append(conn)

    event.listen(engine, "begin", began)
    yield seen
    event.remove(engine, "begin", began)


def _checked_out(app: Litestar) -> int:
    checked_out: int = app.state.services.db.engine.pool.checkedout()
    return checked_out


def test_a_member_request_runs_in_one_transaction(
    client: TestClient[Any], app: Litestar, begins: list[object]
) -> None:
    owner = signup(client, "Acme")
    created = client.post(API, headers=owner["headers"], json={"kind": "company", "name": "Globex"})
    assert created.status_code == 201, created.text
    begins.clear()

    listed = client.get(API, headers=owner["headers"], params={"q": "Glob"})
    changed = client.patch(f"{API}/{created.json()['id']}", headers=owner["headers"], json={"level": "A"})

    assert listed.status_code == 200
    assert [c["name"] for c in listed.json()["items"]] == ["Globex"]
    assert changed.status_code == 200, changed.text
    assert len(begins) == 2  # one per request: the caller's lookup and the handler's work
    assert _checked_out(app) == 0


def test_a_request_that_fails_before_its_handler_gives_its_connection_back(
    client: TestClient[Any], app: Litestar
) -> None:
    owner = signup(client, "Acme")

    broken = client.post(
        API, headers={**owner["headers"], "Content-Type": "application/json"}, content=b"{not json"
    )

    assert broken.status_code == 400
    assert _checked_out(app) == 0
    assert client.get(API, headers=owner["headers"]).status_code == 200


def test_a_refused_member_writes_nothing_but_the_denial(
    client: TestClient[Any], app: Litestar, settings: Any
) -> None:
    owner = signup(client, "Acme")
    reader = add_member(client, settings, owner["tenant_id"], "viewer")

    refused = client.post(API, headers=reader["headers"], json={"kind": "company", "name": "Globex"})

    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert _checked_out(app) == 0
    assert client.get(API, headers=owner["headers"]).json()["items"] == []
    denials = client.get(
        "/api/v1/audit", headers=owner["headers"], params={"action": "permission.denied"}
    ).json()["items"]
    assert [d["changes"]["permission"] for d in denials] == ["customers.create"]
