"""``huike worker`` and ``huike relay``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.events.models import OutboxMessage
from core.events.service import record_job
from core.jobs.models import ProcessedMessage
from core.kernel.database import Database
from core.kernel.settings import Settings
from frontend_api.cli import main
from tests.frontend_api.test_cli import _env

T = TypeVar("T")


async def _in_db(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            return await work(session)
    finally:
        await db.dispose()


async def _enqueue_purge(session: AsyncSession) -> None:
    record_job(session, "housekeeping.purge_outbox", {}, None)


async def _processed(session: AsyncSession) -> list[str]:
    return list((await session.scalars(select(ProcessedMessage.handler))).all())


async def _pending(session: AsyncSession) -> list[OutboxMessage]:
    rows = await session.scalars(select(OutboxMessage).where(OutboxMessage.dispatched_at.is_(None)))
    return list(rows.all())


def test_worker_burst_runs_every_pending_job_then_exits(settings: Settings) -> None:
    asyncio.run(_in_db(settings, _enqueue_purge))

    result = CliRunner().invoke(main, ["worker", "--burst"], env=_env(settings))

    assert result.exit_code == 0, result.output
    assert "Every pending job has run." in result.output

    assert asyncio.run(_in_db(settings, _pending)) == []
    assert asyncio.run(_in_db(settings, _processed)) == ["job:housekeeping.purge_outbox"]


@pytest.mark.parametrize("command", [["worker"], ["relay"]])
def test_separate_workers_need_redis(settings: Settings, command: list[str]) -> None:
    env = {**_env(settings), "HUIKE_REDIS_URL": ""}
    result = CliRunner().invoke(main, command, env=env)
    assert result.exit_code != 0
    assert "HUIKE_REDIS_URL is empty" in result.output


@pytest.mark.redis
def test_worker_burst_runs_jobs_through_redis(settings: Settings, redis_url: str) -> None:
    asyncio.run(_in_db(settings, _enqueue_purge))
    env = {**_env(settings), "HUIKE_REDIS_URL": redis_url}
    result = CliRunner().invoke(main, ["worker", "--burst"], env=env)
    assert result.exit_code == 0, result.output
    assert asyncio.run(_in_db(settings, _processed)) == ["job:housekeeping.purge_outbox"]
