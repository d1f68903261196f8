"""Pooled HTTP clients (core/kernel/http_clients.py): one per tenant and purpose, closed when
idle or when the runtime closes them, never while a request uses them."""

from __future__ import annotations

import uuid

import httpx
import pytest

from core.kernel import http_clients
from core.kernel.http_clients import close_http_clients, tenant_client

pytestmark = pytest.mark.anyio


async def test_a_tenant_gets_its_own_client_again_and_another_tenant_a_different_one() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    async with tenant_client(a, "test", httpx.AsyncClient) as first:
        pass
    async with tenant_client(a, "test", httpx.AsyncClient) as again:
        pass
    async with tenant_client(b, "test", httpx.AsyncClient) as other:
        pass
    assert again is first
    assert other is not first
    await close_http_clients()
    assert first.is_closed
    assert other.is_closed


async def test_an_idle_client_is_closed_but_never_one_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_clients, "IDLE_SECONDS", 0.0)
    busy, idle, next_one = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with tenant_client(idle, "test", httpx.AsyncClient) as left_idle:
        pass
    async with (
        tenant_client(busy, "test", httpx.AsyncClient) as in_use,
        tenant_client(next_one, "test", httpx.AsyncClient),
    ):
        assert left_idle.is_closed
        assert not in_use.is_closed
    await close_http_clients()


async def test_past_the_limit_the_least_recently_used_idle_client_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http_clients, "MAX_TENANTS", 2)
    oldest, newer, newest = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    clients = []
    for tenant in (oldest, newer, newest):
        async with tenant_client(tenant, "test", httpx.AsyncClient) as client:
            clients.append(client)
    async with tenant_client(newer, "test", httpx.AsyncClient):
        pass
    assert clients[0].is_closed
    assert not clients[1].is_closed
    await close_http_clients()
