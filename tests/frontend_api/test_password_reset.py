"""Password reset by emailed link: never tells who has an account, works once, ends sessions."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import re
from typing import Any
from urllib.parse import unquote

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import select

from core.kernel.database import Database
from core.kernel.settings import Settings
from core.security.models import PasswordReset
from frontend_api.app import create_app
from tests.helpers import PASSWORD, bearer, login, sent_mail, signup, unique_email

NEW_PASSWORD = "a freshly chosen passphrase"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Mail is sent by a job: these tests run the in-process job worker."""
    return dataclasses.replace(settings, background_jobs=True)


def _ask(client: TestClient[Any], email: str) -> Any:
    return client.post("/api/v1/auth/password-reset", json={"email": email})


def _token_from(message: Any) -> str:
    match = re.search(r"/reset-password\?token=(\S+)", message.body)
    assert match, message.body
    return unquote(match.group(1))


def _reset_token(app: Litestar, client: TestClient[Any], email: str) -> str:
    assert _ask(client, email).status_code == 202
    return _token_from(sent_mail(client)[-1])


def _confirm(client: TestClient[Any], token: str, password: str = NEW_PASSWORD) -> Any:
    return client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": password})


def _stored_resets(settings: Settings) -> list[PasswordReset]:
    async def run() -> list[PasswordReset]:
        db = Database(settings.database_url)
        try:
            async with db.transaction() as session:
                return list((await session.scalars(select(PasswordReset))).all())
        finally:
            await db.dispose()

    return asyncio.run(run())


def _is_invalid_token(response: Any) -> None:
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_reset_token"
    assert response.json()["errors"][0]["field"] == "token"


def test_asking_answers_alike_whether_or_not_the_account_exists(
    app: Litestar, client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    known = _ask(client, owner["email"].upper())
    unknown = _ask(client, unique_email("ghost"))
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert known.headers["content-type"] == unknown.headers["content-type"]

    [message] = sent_mail(client)
    assert message.to == owner["email"]
    assert f"{settings.public_url}/reset-password?token=" in message.body
    assert len(_stored_resets(settings)) == 1


def test_only_a_digest_of_the_reset_secret_is_stored(
    app: Litestar, client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    token = _reset_token(app, client, owner["email"])
    secret = token.split(".")[1]
    [row] = _stored_resets(settings)
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert row.id.hex == token.split(".")[0]


def test_a_malformed_email_is_a_validation_problem(client: TestClient[Any]) -> None:
    response = _ask(client, "not an email")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_email"


def test_a_reset_link_replaces_the_password(app: Litestar, client: TestClient[Any]) -> None:
    owner = signup(client)
    token = _reset_token(app, client, owner["email"])
    response = _confirm(client, token)
    assert response.status_code == 204, response.text
    assert login(client, owner["email"], PASSWORD).status_code == 401
    assert login(client, owner["email"], NEW_PASSWORD).status_code == 201


def test_a_reset_link_works_once(app: Litestar, client: TestClient[Any]) -> None:
    owner = signup(client)
    token = _reset_token(app, client, owner["email"])
    assert _confirm(client, token).status_code == 204
    _is_invalid_token(_confirm(client, token, "yet another passphrase"))
    assert login(client, owner["email"], NEW_PASSWORD).status_code == 201


def test_using_a_link_spends_the_other_pending_links(app: Litestar, client: TestClient[Any]) -> None:
    owner = signup(client)
    first = _reset_token(app, client, owner["email"])
    second = _reset_token(app, client, owner["email"])
    assert _confirm(client, second).status_code == 204
    _is_invalid_token(_confirm(client, first, "yet another passphrase"))


def test_an_expired_link_is_refused(settings: Settings) -> None:
    app = create_app(dataclasses.replace(settings, password_reset_ttl_seconds=0))
    with TestClient(app) as client:
        owner = signup(client)
        token = _reset_token(app, client, owner["email"])
        _is_invalid_token(_confirm(client, token))
        assert login(client, owner["email"], PASSWORD).status_code == 201


def test_forged_and_malformed_tokens_are_refused_alike(app: Litestar, client: TestClient[Any]) -> None:
    owner = signup(client)
    token = _reset_token(app, client, owner["email"])
    reset_hex, secret = token.split(".")
    for forged in [f"{reset_hex}.{secret[:-4]}AAAA", f"{'0' * 32}.{secret}", "nonsense", "", secret]:
        _is_invalid_token(_confirm(client, forged))
    assert _confirm(client, token).status_code == 204


def test_a_weak_password_is_refused_and_the_link_still_works(app: Litestar, client: TestClient[Any]) -> None:
    owner = signup(client)
    token = _reset_token(app, client, owner["email"])
    weak = _confirm(client, token, "short")
    assert weak.status_code == 422
    assert weak.json()["code"] == "password_too_short"
    assert weak.json()["errors"][0]["field"] == "password"
    assert login(client, owner["email"], PASSWORD).status_code == 201
    assert _confirm(client, token).status_code == 204


def test_a_reset_ends_every_session_in_every_tenant(app: Litestar, client: TestClient[Any]) -> None:
    first = signup(client, "A")
    second = signup(client, "B", email=first["email"])  # the same person runs two businesses
    token = _reset_token(app, client, first["email"])
    assert _confirm(client, token).status_code == 204
    for session in (first, second):
        refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
        assert refreshed.status_code == 401, refreshed.text
        assert client.get("/api/v1/me", headers=bearer(session["access_token"])).status_code == 401
    fresh = login(client, first["email"], NEW_PASSWORD, tenant=second["tenant_id"])
    assert fresh.status_code == 201
    assert client.get("/api/v1/me", headers=bearer(fresh.json()["access_token"])).status_code == 200


def test_asking_does_not_touch_the_password_or_sessions(app: Litestar, client: TestClient[Any]) -> None:
    owner = signup(client)
    _reset_token(app, client, owner["email"])
    assert login(client, owner["email"], PASSWORD).status_code == 201
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": owner["refresh_token"]})
    assert refreshed.status_code == 201


def test_a_mailbox_cannot_be_flooded_with_links(app: Litestar, client: TestClient[Any]) -> None:
    owner = signup(client)
    answers = [_ask(client, owner["email"]) for _ in range(5)]
    assert {r.status_code for r in answers} == {202}
    assert len({r.text for r in answers}) == 1
    assert len(sent_mail(client)) == 3
