"""A permission registered after a business signed up — here the example plugin installed on
the platform later — reaches the business's seeded roles as the plugin declares (admin: all)
and its owner, so its admins can use the plugin once they enable it; a permission an admin
took away from a role is not given back."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from core.jobs.housekeeping import NoPayload
from core.jobs.service import enqueue
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.security.role_sync import role_sync_jobs
from frontend_api.app import create_app
from frontend_api.services import job_registry, permission_registry
from tests.helpers import add_member, signup

REQUESTS = "/api/v1/plugins/creditcheck/requests"
CONFIG = {"blocked_words": ["Shady"], "api_key": "bureau-key-9f8e7d"}


@contextmanager
def _platform(settings: Settings, **changes: Any) -> Iterator[TestClient[Litestar]]:
    configured = dataclasses.replace(settings, background_jobs=True, **changes)
    with TestClient(create_app(configured), raise_server_exceptions=False) as client:
        yield client


def _sync_roles(client: TestClient[Litestar]) -> None:
    """What the five-minute periodic job does, and the per-tenant jobs it fans out."""
    services = client.app.state.services
    [_, sync_templates] = role_sync_jobs(services.registry)[0]

    async def run() -> None:
        with tenant_context(None):
            async with services.db.transaction() as session:
                await enqueue(session, sync_templates, NoPayload())
        await client.app.state.jobs.drain()

    client.blocking_portal.call(run)


def _grants(client: TestClient[Litestar], member: dict[str, Any]) -> dict[str, str]:
    me = client.get("/api/v1/me", headers=member["headers"])
    assert me.status_code == 200, me.text
    permissions: dict[str, str] = me.json()["permissions"]
    return permissions


def _admin_role(client: TestClient[Litestar], owner: dict[str, Any]) -> dict[str, Any]:
    roles = client.get("/api/v1/roles", headers=owner["headers"]).json()["items"]
    role: dict[str, Any] = next(r for r in roles if r["template"] == "admin")
    return role


def test_a_plugin_installed_later_reaches_the_seeded_roles_of_existing_businesses(
    settings: Settings,
) -> None:
    with _platform(settings, plugins_blocked=("creditcheck",)) as before:
        owner = signup(before, "Acme")
        admin = add_member(before, settings, owner["tenant_id"], "admin")
        role = _admin_role(before, owner)
        # The owner takes a permission away from the admin role on purpose.
        grants = {k: v for k, v in role["grants"].items() if k != "apps.develop"}
        edited = before.patch(
            f"/api/v1/roles/{role['id']}",
            headers={**owner["headers"], "If-Match": f'"{role["version"]}"'},
            json={"grants": grants},
        )
        assert edited.status_code == 200, edited.text
        _sync_roles(before)  # the platform's catalogue, before the plugin
        assert "creditcheck.read" not in _grants(before, owner)

    with _platform(settings) as after:  # the platform installed the example plugin
        enabled = after.post(
            "/api/v1/tenant/plugins/creditcheck/enable", headers=owner["headers"], json={"config": CONFIG}
        )
        assert enabled.status_code == 200, enabled.text
        assert after.get(REQUESTS, headers=admin["headers"]).status_code == 403

        _sync_roles(after)

        assert _grants(after, owner)["creditcheck.read"] == "all"
        assert _grants(after, admin)["creditcheck.read"] == "all"
        assert after.get(REQUESTS, headers=admin["headers"]).status_code == 200
        assert "apps.develop" not in _grants(after, admin)
        history = after.get("/api/v1/audit", params={"limit": "200"}, headers=owner["headers"]).json()
        synced = [e for e in history["items"] if e["entity_type"] == "roles" and e["actor_type"] == "system"]
        assert synced  # the change is in the business's audit trail, made by the system


def test_the_first_catalogue_gives_the_owner_every_permission_and_others_nothing_new(
    settings: Settings,
) -> None:
    with _platform(settings, plugins_blocked=("creditcheck",)) as before:
        owner = signup(before, "Acme")
        admin = add_member(before, settings, owner["tenant_id"], "admin")
    with _platform(settings) as after:
        assert "creditcheck.read" not in _grants(after, owner)
        _sync_roles(after)  # no catalogue yet: which permissions are new is unknown
        assert _grants(after, owner)["creditcheck.read"] == "all"
        assert "creditcheck.read" not in _grants(after, admin)


def test_the_sync_is_a_periodic_job_of_every_process() -> None:
    assert "security.sync_role_templates" in job_registry().periodic
    assert "creditcheck.read" not in permission_registry()  # the core alone does not know it
