"""pytest fixtures for plugin authors: a real Huike (SQLite, in-process jobs, memory mail)
with your plugin installed, and helpers to sign a business up and enable the plugin for it.

In your package's ``tests/conftest.py``::

    import pytest
    import huike_hello.plugin

    pytest_plugins = ["plugins.sdk.testing"]

    @pytest.fixture
    def huike_plugins() -> list[object]:
        return [huike_hello.plugin]   # not needed once the package is installed

Then a test::

    def test_hello(huike: Huike) -> None:
        acme = huike.signup("Acme")
        huike.enable(acme, "hello", {"greeting": "Hi"})
        assert huike.client.get("/api/v1/plugins/hello/greeting", headers=acme.headers).json() == ...
        huike.drain()                 # run the event hooks of what happened so far

Installed plugins (``huike.plugins`` entry points) are always loaded too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from core.kernel.settings import Settings

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.testing import TestClient

    from core.mail import Message

__all__ = ["Huike", "TestTenant", "huike", "huike_plugins", "huike_settings"]

PASSWORD = "plugin-test-password"


@dataclasses.dataclass(frozen=True)
class TestTenant:
    """A business signed up for the test, with its owner's credentials."""

    __test__ = False  # not a test class, despite the name

    tenant_id: str
    email: str
    headers: dict[str, str]


class Huike:
    """The app under test: ``client`` is a litestar ``TestClient``."""

    def __init__(self, client: TestClient[Litestar]) -> None:
        self.client = client

    def signup(self, company: str = "Acme") -> TestTenant:
        email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
        response = self.client.post(
            "/api/v1/signup",
            json={"company_name": company, "owner_name": "Owner", "email": email, "password": PASSWORD},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return TestTenant(body["tenant_id"], email, {"Authorization": f"Bearer {body['access_token']}"})

    def enable(self, tenant: TestTenant, plugin: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.client.post(
            f"/api/v1/tenant/plugins/{plugin}/enable", headers=tenant.headers, json={"config": config or {}}
        )
        assert response.status_code == 200, response.text
        enabled: dict[str, Any] = response.json()
        return enabled

    def drain(self) -> None:
        """Run every job and event hook pending so far (the relay, then the worker)."""
        app: Any = self.client.app
        self.client.blocking_portal.call(app.state.jobs.drain)

    @property
    def mail(self) -> list[Message]:
        """What was sent through the platform mailer (after :meth:`drain`)."""
        app: Any = self.client.app
        outbox: list[Message] = app.state.services.mailer.outbox
        return outbox


@pytest.fixture
def huike_plugins() -> list[object]:
    """Plugins to load besides the installed ones; override it in your conftest."""
    return []


@pytest.fixture
def huike_settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'huike.db'}",
        data_dir=str(tmp_path),
        secret_key="plugin-tests-secret-key-long-enough-for-hs256",
        mail_backend="memory",
        log_level="WARNING",
        log_json=False,
        job_max_retries=1,
        job_min_backoff_ms=1,
        job_max_backoff_ms=5,
    )


@pytest.fixture
def huike(huike_settings: Settings, huike_plugins: list[object]) -> Iterator[Huike]:
    # The harness composes the whole app, so it reaches past the SDK on purpose.
    from litestar.testing import TestClient

    from core.kernel.migrate import upgrade
    from frontend_api.app import create_app
    from frontend_api.services import build_services
    from plugins.first_party import FIRST_PARTY
    from plugins.manager import PluginHost

    host = PluginHost.load([*FIRST_PARTY, *huike_plugins], settings=huike_settings)
    upgrade(huike_settings, version_locations=host.migration_locations())
    services = build_services(huike_settings, plugins=host)
    app = create_app(huike_settings, services)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Huike(client)
    asyncio.run(services.db.dispose())
