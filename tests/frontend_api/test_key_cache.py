"""A business's key rows are read once per process for members' requests, and a change made
by another process (a rotation, a shredding) is seen at the next request all the same."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import event, text

from core.crypto.codec import ciphertext_version
from core.crypto.keyring import open_database
from core.crypto.service import rotate_tenant, shred_tenant
from core.kernel.settings import Settings
from tests.helpers import signup

API = "/api/v1/customers"


@pytest.fixture
def key_reads(app: Litestar) -> Iterator[list[str]]:
    """The statements that load a business's wrapped keys, as the app's engine sends them."""
    seen: list[str] = []
    engine = app.state.services.db.engine.sync_engine

    def sent(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "wrapped_data_key" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", sent)
    yield seen
    event.remove(engine, "before_cursor_execute", sent)


def _in_another_process(settings: Settings, work: Any) -> None:
    """``work(db)`` through a Database of its own: another process's keyring and pool."""

    async def run() -> None:
        other = open_database(settings)
        try:
            await work(other)
        finally:
            await other.dispose()

    asyncio.run(run())


def _stored_phone_versions(settings: Settings) -> list[int]:
    async def run() -> list[int]:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(settings.owner_database_url)
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(text("SELECT phone FROM customers ORDER BY id"))).all()
        finally:
            await engine.dispose()
        return [ciphertext_version(bytes(r.phone)) for r in rows]

    return asyncio.run(run())


def _create(client: TestClient[Any], headers: dict[str, str], name: str, phone: str) -> None:
    response = client.post(API, headers=headers, json={"kind": "company", "name": name, "phone": phone})
    assert response.status_code == 201, response.text


def test_members_requests_read_the_keys_once_per_process(
    client: TestClient[Any], key_reads: list[str]
) -> None:
    owner = signup(client, "Acme")
    _create(client, owner["headers"], "Globex", "+8613800000001")
    key_reads.clear()

    for _ in range(3):
        listed = client.get(API, headers=owner["headers"], params={"phone": "+8613800000001"})
        assert [c["name"] for c in listed.json()["items"]] == ["Globex"]

    assert len(key_reads) <= 1  # the first request may load them; the others reuse them


def test_a_rotation_by_another_process_is_seen_at_the_next_request(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client, "Acme")
    _create(client, owner["headers"], "Globex", "+8613800000001")
    assert client.get(API, headers=owner["headers"]).status_code == 200  # keys of version 1 cached

    tenant_id = uuid.UUID(owner["tenant_id"])
    _in_another_process(settings, lambda db: rotate_tenant(db, tenant_id))

    listed = client.get(API, headers=owner["headers"], params={"phone": "+8613800000001"})
    assert listed.status_code == 200, listed.text  # re-encrypted rows read with version 2
    assert [c["name"] for c in listed.json()["items"]] == ["Globex"]
    _create(client, owner["headers"], "Initech", "+8613800000002")
    assert _stored_phone_versions(settings) == [2, 2]  # new values under the new key only


def test_a_shredding_by_another_process_is_seen_at_the_next_request(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client, "Acme")
    _create(client, owner["headers"], "Globex", "+8613800000001")
    assert client.get(API, headers=owner["headers"]).status_code == 200  # keys cached

    tenant_id = uuid.UUID(owner["tenant_id"])
    _in_another_process(settings, lambda db: shred_tenant(db, tenant_id))

    listed = client.get(API, headers=owner["headers"])
    assert listed.status_code == 410
    assert listed.json()["code"] == "data_keys_shredded"
