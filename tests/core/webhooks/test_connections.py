"""A tenant's deliveries reuse the connections its earlier deliveries opened (keep-alive, no
handshake per POST); no connection ever carries two tenants' deliveries."""

from __future__ import annotations

import pytest

from core.jobs.runtime import JobRuntime
from core.kernel.database import Database
from core.kernel.settings import Settings
from tests.core.crypto.factories import new_shop
from tests.core.webhooks.conftest import add_endpoint, emit
from tests.http_server import HTTPServer

pytestmark = pytest.mark.anyio


async def test_a_tenants_later_deliveries_reuse_the_connection_of_its_earlier_ones(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer
) -> None:
    shop = await new_shop(db)
    await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/hooks"))
    for _ in range(3):
        await emit(db, shop.tenant_id)
        await runtime.drain()

    ports = [r.peer_port for r in receiver.requests_to("/hooks")]
    assert len(ports) == 3
    assert len(set(ports)) == 1


async def test_two_tenants_deliveries_never_share_a_connection(
    db: Database, hook_settings: Settings, runtime: JobRuntime, receiver: HTTPServer
) -> None:
    first, second = await new_shop(db), await new_shop(db)
    for shop in (first, second):
        await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url(f"/hooks/{shop.tenant_id}"))
    for _ in range(2):
        for shop in (first, second):
            await emit(db, shop.tenant_id)
            await runtime.drain()

    ports = {
        shop.tenant_id: {r.peer_port for r in receiver.requests_to(f"/hooks/{shop.tenant_id}")}
        for shop in (first, second)
    }
    assert len(ports[first.tenant_id]) == 1
    assert len(ports[second.tenant_id]) == 1
    assert not ports[first.tenant_id] & ports[second.tenant_id]
