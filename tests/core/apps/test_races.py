"""The database settles races at the token endpoint: a code or a refresh token presented by
two requests at once is spent once, and the loser's replay revokes the family (RFC 6749
§4.1.2 and §10.4): neither request keeps a working token."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from litestar.testing import TestClient

from core.apps.oauth_models import OAuthRequest
from core.apps.oauth_store import AppOAuth
from core.kernel.database import Database
from core.kernel.settings import Settings
from frontend_api.services import Services
from tests.app_helpers import REDIRECT, bearer, code_for, install, register_app
from tests.helpers import signup


def _request(app: dict[str, Any], **form: str) -> OAuthRequest:
    basic = base64.b64encode(f"{app['client_id']}:{app['client_secret']}".encode()).decode()
    return OAuthRequest(
        "POST", "http://testserver/oauth/token", {"Authorization": f"Basic {basic}"}, list(form.items())
    )


def _twice(client: TestClient[Any], settings: Settings, request: OAuthRequest) -> list[tuple[int, Any]]:
    """Two token requests at once; their ``(status, body)``, the winner first."""
    services: Services = client.app.state.services  # type: ignore[attr-defined]

    async def run() -> list[tuple[int, Any]]:
        db = Database(settings.database_url)
        try:
            oauth = AppOAuth(db, services.scopes, services.oauth.policy)
            answers = await asyncio.gather(oauth.token(request), oauth.token(request))
            return sorted(((answer[0], answer[1]) for answer in answers), key=lambda a: a[0])
        finally:
            await db.dispose()

    return asyncio.run(run())


def _lost_race(client: TestClient[Any], answers: list[tuple[int, Any]]) -> None:
    (won, body), (lost, error) = answers
    assert (won, lost) == (200, 400)
    assert error["error"] == "invalid_grant"
    assert client.get("/api/v1/customers", headers=bearer(body["access_token"])).status_code == 401


def test_a_code_exchanged_twice_at_once_is_spent_once_and_its_tokens_revoked(
    client: TestClient[Any], settings: Settings
) -> None:
    dev, a = signup(client, "Dev Co"), signup(client, "Tenant A")
    app = register_app(client, dev["headers"])
    code, verifier = code_for(client, a["headers"], app)
    request = _request(
        app, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier
    )
    _lost_race(client, _twice(client, settings, request))
    installation = client.get("/api/v1/app-installations", headers=a["headers"]).json()["items"][0]
    assert installation["uninstalled_at"] is None
    tokens = install(client, a["headers"], app)  # a fresh consent still works
    assert client.get("/api/v1/customers", headers=bearer(tokens["access_token"])).status_code == 200


def test_a_refresh_token_used_twice_at_once_revokes_its_family(
    client: TestClient[Any], settings: Settings
) -> None:
    dev, a = signup(client, "Dev Co"), signup(client, "Tenant A")
    app = register_app(client, dev["headers"])
    tokens = install(client, a["headers"], app)
    request = _request(app, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    _lost_race(client, _twice(client, settings, request))
    assert client.get("/api/v1/customers", headers=bearer(tokens["access_token"])).status_code == 401
