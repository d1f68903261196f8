"""Platform admins see failed jobs and handlers and replay them; the embedded server runs
jobs in-process."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import select

from core.events.service import record_event
from core.jobs.runtime import JobRuntime
from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.security.models import PlatformAdminAction
from frontend_api.app import create_app
from frontend_api.services import build_services
from tests.core.jobs.conftest import TeamWanted, World
from tests.helpers import platform_admin, signup


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def jobs_client(settings: Settings, world: World) -> Iterator[TestClient[Litestar]]:
    """An app whose lifespan runs the embedded job runtime with the test handlers."""
    fast = dataclasses.replace(
        settings, background_jobs=True, job_max_retries=1, job_min_backoff_ms=1, job_max_backoff_ms=5
    )
    app = create_app(fast, build_services(fast, jobs=world.registry()))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    asyncio.run(app.state.services.db.dispose())


def _drain(client: TestClient[Litestar]) -> None:
    runtime: JobRuntime = client.app.state.jobs
    client.blocking_portal.call(runtime.drain)


def _emit(settings: Settings, tenant_id: str, label: str) -> None:
    async def run() -> None:
        db = Database(settings.database_url)
        try:
            with tenant_context(uuid.UUID(tenant_id)):
                async with db.transaction() as session:
                    await record_event(session, TeamWanted(label=label))
        finally:
            await db.dispose()

    asyncio.run(run())


def _teams(client: TestClient[Any], headers: dict[str, str]) -> list[str]:
    return sorted(t["name"] for t in client.get("/api/v1/teams", headers=headers).json()["items"])


def test_the_embedded_server_runs_handlers_in_process(
    jobs_client: TestClient[Litestar], settings: Settings
) -> None:
    owner = signup(jobs_client)
    _emit(settings, owner["tenant_id"], "Made by a handler")
    _drain(jobs_client)
    assert _teams(jobs_client, owner["headers"]) == ["Made by a handler"]


def test_platform_admins_list_dead_letters_and_replay_them(
    jobs_client: TestClient[Litestar], settings: Settings, world: World
) -> None:
    admin = platform_admin(jobs_client, settings)
    owner = signup(jobs_client)
    world.failing = True
    _emit(settings, owner["tenant_id"], "Second chance")
    _drain(jobs_client)

    listed = jobs_client.get("/api/platform/dead-letters", headers=admin)
    assert listed.status_code == 200, listed.text
    (letter,) = listed.json()["items"]
    assert letter["tenant_id"] == owner["tenant_id"]
    assert letter["handler"] == "tests.create_team"
    assert letter["name"] == "tests.team_wanted"
    assert letter["payload"] == {"label": "Second chance"}
    assert "cannot create Second chance" in letter["error"]
    assert letter["attempts"] == 2
    assert letter["replayed_at"] is None

    world.failing = False
    replayed = jobs_client.post(f"/api/platform/dead-letters/{letter['id']}/replay", headers=admin)
    assert replayed.status_code == 202, replayed.text
    _drain(jobs_client)

    assert _teams(jobs_client, owner["headers"]) == ["Second chance"]
    again = jobs_client.post(f"/api/platform/dead-letters/{letter['id']}/replay", headers=admin)
    assert again.status_code == 409
    assert again.json()["code"] == "already_replayed"
    pending = jobs_client.get("/api/platform/dead-letters?pending=true", headers=admin).json()
    assert pending["items"] == []
    assert _admin_actions(settings) == ["dead_letter.replay"]


def _admin_actions(settings: Settings) -> list[str]:
    async def run() -> list[str]:
        db = Database(settings.database_url)
        try:
            async with db.transaction() as session:
                return list((await session.scalars(select(PlatformAdminAction.action))).all())
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_dead_letters_are_for_platform_admins_only(jobs_client: TestClient[Litestar]) -> None:
    owner = signup(jobs_client)
    assert jobs_client.get("/api/platform/dead-letters", headers=owner["headers"]).status_code == 401
    assert jobs_client.get("/api/platform/dead-letters").status_code == 401


def test_replaying_an_unknown_dead_letter_is_404(
    jobs_client: TestClient[Litestar], settings: Settings
) -> None:
    admin = platform_admin(jobs_client, settings)
    response = jobs_client.post(f"/api/platform/dead-letters/{uuid.uuid4()}/replay", headers=admin)
    assert response.status_code == 404


@pytest.mark.redis
def test_with_redis_the_web_process_relays_but_runs_no_worker(settings: Settings, redis_url: str) -> None:
    configured = dataclasses.replace(settings, background_jobs=True, redis_url=redis_url)
    app = create_app(configured)
    with TestClient(app) as client:
        runtime: JobRuntime = client.app.state.jobs
        assert runtime.worker is None
        assert not runtime.embedded


def test_the_web_process_can_leave_relaying_to_workers(settings: Settings) -> None:
    configured = dataclasses.replace(
        settings, background_jobs=True, redis_url="redis://127.0.0.1:1/0", web_relay=False
    )
    with TestClient(create_app(configured)) as client:
        assert client.app.state.jobs is None
