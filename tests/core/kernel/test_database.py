"""The pool hands out live connections: one the database dropped while it sat idle in the
pool is replaced before use (SQLAlchemy's ``pool_pre_ping``, for idle connections only)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from core.kernel import database as database_module
from core.kernel.database import Database

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def _backend_pid(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(owner: Database, pid: int) -> None:
    async with owner.engine.begin() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await asyncio.sleep(0.1)


async def test_a_connection_dropped_while_idle_in_the_pool_is_replaced_before_use(
    db: Database, rls_free_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    dropped = await _backend_pid(db)
    await _terminate(rls_free_db, dropped)  # a restart, an idle timeout, a network cut

    async with db.transaction() as session:
        assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
    assert await _backend_pid(db) != dropped
