"""A small world for the job tests: an event, a handler that writes a team in the event's
tenant, a tenant job and a platform job, and a runtime factory (in-process worker, or the
real Redis broker for the ``redis`` variants)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import msgspec
import pytest
from sqlalchemy import func, select

from core.events.schemas import DomainEvent
from core.jobs.context import JobContext
from core.jobs.registry import JobRegistry, handler, job
from core.jobs.runtime import JobRuntime
from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.mail import MemoryMailer
from core.security.models import Team
from tests.core.kernel.test_orm_wall import _tenant_with_teams


class TeamWanted(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "tests.team_wanted"
    label: str


class CreateTeam(msgspec.Struct):
    label: str


@dataclasses.dataclass
class World:
    """What the handlers did, and a switch that makes them fail."""

    calls: list[tuple[str, uuid.UUID | None, int]] = dataclasses.field(default_factory=list)
    failing: bool = False

    def registry(self) -> JobRegistry:
        @handler(TeamWanted, name="tests.create_team")
        async def create_team(ctx: JobContext, event: TeamWanted) -> None:
            self.calls.append((event.label, ctx.tenant_id, ctx.attempt))
            if self.failing:
                raise RuntimeError(f"cannot create {event.label}")
            ctx.session.add(Team(name=event.label))

        @job("tests.create_team_job", CreateTeam)
        async def create_team_job(ctx: JobContext, payload: CreateTeam) -> None:
            self.calls.append((payload.label, ctx.tenant_id, ctx.attempt))
            ctx.session.add(Team(name=payload.label))

        @job("tests.platform_job", CreateTeam, platform=True)
        async def platform_job(ctx: JobContext, payload: CreateTeam) -> None:
            self.calls.append((payload.label, ctx.tenant_id, ctx.attempt))

        registry = JobRegistry()
        registry.add_handlers([create_team])
        registry.add_jobs([create_team_job, platform_job])
        return registry


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.redis)])
def job_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """Fast retries; the in-process broker, or the real Redis one."""
    redis = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    return dataclasses.replace(
        settings, redis_url=redis, job_max_retries=2, job_min_backoff_ms=1, job_max_backoff_ms=5
    )


RuntimeFactory = Callable[..., JobRuntime]


@pytest.fixture
async def runtimes(job_settings: Settings, db: Database, world: World) -> AsyncIterator[RuntimeFactory]:
    """Builds started runtimes (worker on, background loops off: tests drive the relay)."""
    started: list[JobRuntime] = []

    def make(**overrides: Any) -> JobRuntime:
        runtime = JobRuntime(
            dataclasses.replace(job_settings, **overrides), db, world.registry(), MemoryMailer()
        )
        started.append(runtime)
        return runtime

    yield make
    for runtime in started:
        await runtime.stop()


async def new_tenant(db: Database, name: str = "acme") -> uuid.UUID:
    return await _tenant_with_teams(db, name, [])


async def team_names(db: Database, tenant_id: uuid.UUID) -> list[str]:
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            return sorted((await session.scalars(select(Team.name))).all())


async def count(db: Database, model: Any) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(model))).scalar_one())
