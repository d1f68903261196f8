"""Helpers for tests that drive the API like a client would."""

from __future__ import annotations

import uuid
from typing import Any

from litestar.testing import TestClient

PASSWORD = "correct horse battery staple"


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


def signup(client: TestClient[Any], company: str = "Acme", email: str | None = None) -> dict[str, Any]:
    """Sign a new business up; returns the token response plus ``headers`` and ``email``."""
    email = email or unique_email("owner")
    response = client.post(
        "/api/v1/signup",
        json={"company_name": company, "owner_name": "Owner", "email": email, "password": PASSWORD},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    body["email"] = email
    body["headers"] = bearer(body["access_token"])
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: TestClient[Any], email: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post("/api/v1/auth/token", json={"email": email, "password": password, **extra})


def add_member(client: TestClient[Any], settings: Any, tenant_id: str, *roles: str) -> dict[str, Any]:
    """Add a new person with ``roles`` to the tenant (the operator path, as ``huike users
    create`` does) and sign them in; returns the token response plus ``headers``, ``email``
    and ``member_id``."""
    import asyncio

    from core.kernel.database import Database
    from tenants.operator import add_user_to_tenant

    email = unique_email("member")

    async def run() -> None:
        db = Database(settings.database_url)
        try:
            await add_user_to_tenant(db, settings, tenant_id, email, "Member", PASSWORD, list(roles))
        finally:
            await db.dispose()

    asyncio.run(run())
    response = login(client, email)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    body["email"] = email
    body["headers"] = bearer(body["access_token"])
    body["member_id"] = client.get("/api/v1/me", headers=body["headers"]).json()["membership_id"]
    return body


def platform_admin(client: TestClient[Any], settings: Any) -> dict[str, str]:
    """Create a platform admin (as ``huike admin create`` does); returns auth headers."""
    import asyncio

    from core.kernel.database import Database
    from tenants.operator import create_platform_admin

    email = unique_email("platform")

    async def run() -> None:
        db = Database(settings.database_url)
        try:
            await create_platform_admin(db, settings, email, "Platform Admin", PASSWORD)
        finally:
            await db.dispose()

    asyncio.run(run())
    response = client.post("/api/platform/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return bearer(response.json()["access_token"])


def turn_on_two_factor(client: TestClient[Any], headers: dict[str, str]) -> str:
    """Set TOTP up and enable it for the caller; returns the secret."""
    import pyotp

    response = client.post("/api/v1/me/2fa/setup", headers=headers)
    assert response.status_code == 200, response.text
    secret: str = response.json()["secret"]
    enabled = client.post("/api/v1/me/2fa/enable", json={"code": pyotp.TOTP(secret).now()}, headers=headers)
    assert enabled.status_code == 200, enabled.text
    return secret


def sent_mail(client: TestClient[Any]) -> list[Any]:
    """Run the mail jobs enqueued so far on the app's in-process worker (the app must be
    built with ``background_jobs=True``), then return what the memory mailer holds."""
    app: Any = client.app
    client.blocking_portal.call(app.state.jobs.drain)
    return app.state.services.mailer.outbox  # type: ignore[no-any-return]
