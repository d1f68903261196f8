"""An attempt holds no database transaction while it waits for the receiver: a slow
receiver ties up no connection in ``idle in transaction``, only the worker's time."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from core.jobs.runtime import JobRuntime
from core.kernel.database import Database
from core.kernel.settings import Settings
from tests.core.crypto.factories import Shop
from tests.core.webhooks.conftest import add_endpoint, emit
from tests.http_server import HTTPServer, Reply

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def test_a_slow_receiver_holds_no_transaction_open(
    db: Database,
    rls_free_db: Database,
    hook_settings: Settings,
    runtime: JobRuntime,
    receiver: HTTPServer,
    shop: Shop,
) -> None:
    receiver.script("/slow", [Reply(200, delay=1.0)])
    await add_endpoint(db, hook_settings, shop.tenant_id, receiver.url("/slow"))
    await emit(db, shop.tenant_id)
    drained = asyncio.create_task(runtime.drain())
    while not receiver.requests_to("/slow"):  # noqa: ASYNC110 - the receiver is a thread
        await asyncio.sleep(0.02)

    async with rls_free_db.engine.connect() as conn:
        waiting = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state = 'idle in transaction'"
                )
            )
        ).scalar_one()
    await drained

    assert waiting == 0
    assert len(receiver.answered) == 1
