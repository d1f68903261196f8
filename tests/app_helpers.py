"""Helpers for tests that play a third-party app: register it, send an admin through the
consent screen, exchange the code, call the token endpoint."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

from litestar.testing import TestClient

APPS = "/api/v1/apps"
REDIRECT = "https://app.example.com/callback"
SCOPES = ["customers:read", "customers:write"]


def register_app(client: TestClient[Any], headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    """Register an app as the developer ``headers`` belong to; returns the answer (with the secret)."""
    body = {"name": "Sync Pro", "redirect_uris": [REDIRECT], "scopes": SCOPES, **fields}
    response = client.post(APPS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def pkce() -> tuple[str, str]:
    """``(code_verifier, code_challenge)`` for S256 (RFC 7636 §4.2)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(app: dict[str, Any], challenge: str, **overrides: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": REDIRECT,
        "scope": " ".join(app["scopes"]),
        "state": "xyz-state",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return params


def decide(
    client: TestClient[Any],
    admin: dict[str, str],
    params: dict[str, str],
    decision: str = "approve",
    scopes: list[str] | None = None,
) -> Any:
    body: dict[str, Any] = {"decision": decision}
    if scopes is not None:
        body["scopes"] = scopes
    return client.post("/oauth/authorize", params=params, json=body, headers=admin)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def code_for(
    client: TestClient[Any], admin: dict[str, str], app: dict[str, Any], scopes: list[str] | None = None
) -> tuple[str, str]:
    """Consent as ``admin``; returns ``(code, code_verifier)``."""
    verifier, challenge = pkce()
    response = decide(client, admin, authorize_params(app, challenge), scopes=scopes)
    assert response.status_code == 200, response.text
    return query_of(response.json()["redirect_to"])["code"], verifier


def token(client: TestClient[Any], app: dict[str, Any], **form: str) -> Any:
    """``POST /oauth/token`` authenticating with HTTP Basic (``client_secret_basic``)."""
    return client.post("/oauth/token", data=form, auth=(app["client_id"], app["client_secret"]))


def install(
    client: TestClient[Any], admin: dict[str, str], app: dict[str, Any], scopes: list[str] | None = None
) -> dict[str, Any]:
    """Consent and exchange the code; returns the token answer (access, refresh, tenant...)."""
    code, verifier = code_for(client, admin, app, scopes)
    response = token(
        client, app, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}
