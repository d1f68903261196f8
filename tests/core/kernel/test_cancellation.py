"""Pitfall 3 of DESIGN.md: a call cancelled mid-flight must not leave its pooled connection
one answer behind, or the next caller reads someone else's data. The connection is discarded
instead; these tests pin that behaviour for the drivers we use."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text

from core.kernel.database import Database
from core.kernel.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.mark.postgres
async def test_a_cancelled_query_does_not_leak_its_answer_or_tenant(settings: Settings) -> None:
    db = Database(settings.database_url, pool_size=1, max_overflow=0)  # one connection: it is reused
    try:

        async def slow_query_in_tenant_a() -> None:
            async with db.engine.begin() as conn:
                await conn.execute(text("SELECT set_config('app.tenant_id', 'tenant-a', true)"))
                await conn.execute(text("SELECT 'answer for A' FROM pg_sleep(0.5)"))

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(slow_query_in_tenant_a(), 0.1)

        async with db.engine.connect() as conn:
            assert (await conn.execute(text("SELECT 'answer for B'"))).scalar_one() == "answer for B"
            leftover = await conn.execute(text("SELECT current_setting('app.tenant_id', true)"))
            assert leftover.scalar_one() in (None, "")
    finally:
        await db.dispose()


@pytest.mark.redis
async def test_a_cancelled_redis_call_does_not_leak_its_answer(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url, max_connections=1)
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.blpop(["pitfall3"], timeout=1), 0.1)
        await client.rpush("pitfall3", "answer for A")  # would complete the cancelled BLPOP
        assert await client.echo("answer for B") == b"answer for B"
    finally:
        await client.aclose()
