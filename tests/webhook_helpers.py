"""Helpers for tests that follow events to a webhook receiver through the whole app: an app
with in-process jobs and fast webhook settings, and the job machinery driven by hand."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

from litestar import Litestar
from litestar.testing import TestClient

from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.webhooks.jobs import wake_due_deliveries
from frontend_api.app import create_app


@contextmanager
def webhook_client(settings: Settings) -> Iterator[TestClient[Litestar]]:
    """Loopback receivers allowed, retries at once, two attempts, short timeouts."""
    fast = dataclasses.replace(
        settings,
        background_jobs=True,
        webhook_allow_private_urls=True,
        webhook_retry_schedule=("0s",),
        webhook_max_attempts=2,
        webhook_timeout_ms=2000,
    )
    with TestClient(create_app(fast), raise_server_exceptions=False) as client:
        yield client


def drain(client: TestClient[Litestar]) -> None:
    """Run every job and handler the app has queued, and what they queue, to the end."""
    client.blocking_portal.call(client.app.state.jobs.drain)


def retry_due(client: TestClient[Litestar]) -> None:
    """What the 15-second sweeper does: attempt the deliveries whose retry is due."""
    services = client.app.state.services

    async def wake() -> None:
        with tenant_context(None):
            async with services.db.transaction() as session:
                await wake_due_deliveries(session, services.settings)
        await client.app.state.jobs.drain()

    client.blocking_portal.call(wake)
