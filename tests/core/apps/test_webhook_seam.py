"""The seam for webhook delivery: which apps installed in the current tenant want an event,
and where; an app whose installation lost the event's read scope, or was uninstalled, is
not among them."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from litestar.testing import TestClient

from core.apps.webhooks import webhook_subscriptions
from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from frontend_api.services import Services
from tests.app_helpers import install, register_app
from tests.helpers import signup

HOOK = "https://hooks.example.com/huike"


def _subscribers(
    client: TestClient[Any], settings: Settings, tenant_id: str, event: str
) -> list[tuple[str, str]]:
    services: Services = client.app.state.services  # type: ignore[attr-defined]

    async def run() -> list[tuple[str, str]]:
        db = Database(settings.database_url)
        try:
            with tenant_context(uuid.UUID(tenant_id)):
                async with db.transaction() as session:
                    found = await webhook_subscriptions(session, services.scopes, event)
            return [(str(s.app_id), s.url) for s in found]
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_installed_apps_that_chose_an_event_are_its_subscribers(
    client: TestClient[Any], settings: Settings
) -> None:
    dev = signup(client, "Dev Co")
    app = register_app(client, dev["headers"], webhook_url=HOOK, webhook_events=["customers.created"])
    quiet = register_app(client, dev["headers"], name="Quiet app")
    a, b, c = signup(client, "Tenant A"), signup(client, "Tenant B"), signup(client, "Tenant C")
    a_install = install(client, a["headers"], app)
    install(client, a["headers"], quiet)
    install(client, c["headers"], app, scopes=["customers:write"])

    assert _subscribers(client, settings, a["tenant_id"], "customers.created") == [(app["id"], HOOK)]
    assert _subscribers(client, settings, a["tenant_id"], "customers.updated") == []
    assert _subscribers(client, settings, b["tenant_id"], "customers.created") == []
    # C did not grant customers:read, so its customers' events are not the app's to see.
    assert _subscribers(client, settings, c["tenant_id"], "customers.created") == []

    client.delete(f"/api/v1/app-installations/{a_install['installation_id']}", headers=a["headers"])
    assert _subscribers(client, settings, a["tenant_id"], "customers.created") == []
