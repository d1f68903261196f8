"""The scheduler fires each due run of a periodic job once, even with several schedulers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.events.models import OutboxMessage
from core.jobs.housekeeping import NoPayload
from core.jobs.registry import JobRegistry, Periodic, job
from core.jobs.scheduler import Scheduler
from core.kernel.database import Database
from core.kernel.settings import Settings

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@job("tests.tick", NoPayload, platform=True)
async def tick_job(ctx: object, payload: NoPayload) -> None:
    return None


def _registry(periodic: Periodic) -> JobRegistry:
    registry = JobRegistry()
    registry.add_periodic([periodic])
    return registry


async def _fired(db: Database) -> list[str]:
    async with db.transaction() as session:
        return list((await session.scalars(select(OutboxMessage.name).order_by(OutboxMessage.id))).all())


async def test_two_schedulers_racing_fire_each_due_run_once(settings: Settings, db: Database) -> None:
    registry = _registry(Periodic(tick_job, every=timedelta(minutes=1)))
    other_db = Database(settings.database_url)
    try:
        first = Scheduler(db, registry, holder="first")
        second = Scheduler(other_db, registry, holder="second")
        assert await first.tick(T0) == []  # learns the job: first due at T0 + 1 min

        wins = []
        for minute in range(1, 6):
            now = T0 + timedelta(minutes=minute)
            a, b = await asyncio.gather(first.tick(now), second.tick(now))
            wins.append(len(a) + len(b))
    finally:
        await other_db.dispose()

    assert wins == [1, 1, 1, 1, 1]
    assert await _fired(db) == ["tests.tick"] * 5


async def test_a_run_is_not_fired_before_it_is_due_nor_twice(db: Database) -> None:
    scheduler = Scheduler(db, _registry(Periodic(tick_job, cron="*/5 * * * *")), holder="only")
    await scheduler.tick(T0)  # next due 12:05
    assert await scheduler.tick(T0 + timedelta(minutes=4)) == []
    assert await scheduler.tick(T0 + timedelta(minutes=5)) == ["tests.tick"]
    assert await scheduler.tick(T0 + timedelta(minutes=5, seconds=30)) == []
    # Down for an hour: the missed runs fire once, then the schedule resumes.
    assert await scheduler.tick(T0 + timedelta(hours=1, minutes=1)) == ["tests.tick"]
    assert await scheduler.tick(T0 + timedelta(hours=1, minutes=4)) == []
    assert await _fired(db) == ["tests.tick"] * 2


def test_periodic_jobs_are_declared_with_a_valid_schedule() -> None:
    assert Periodic(tick_job, cron="*/15 * * * *").next_after(T0) == T0 + timedelta(minutes=15)
    with pytest.raises(ValueError, match="invalid cron"):
        Periodic(tick_job, cron="every tuesday")
    with pytest.raises(ValueError, match="exactly one"):
        Periodic(tick_job)
    tenant_job = job("tests.tenant_tick", NoPayload)(tick_job.fn)
    with pytest.raises(ValueError, match="platform jobs"):
        Periodic(tenant_job, every=timedelta(hours=1))
