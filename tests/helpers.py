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
