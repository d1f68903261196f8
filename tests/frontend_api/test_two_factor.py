"""Optional TOTP two-factor authentication per person, and the tenant's 2FA requirement."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pyotp
import pytest
from litestar.testing import TestClient
from sqlalchemy import update

from core.kernel.database import Database
from core.kernel.errors import Forbidden
from core.kernel.models import Tenant, TenantStatus
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.security import two_factor
from core.security.principal import Principal
from core.security.two_factor import DisableTwoFactor, EnableTwoFactor
from tests.helpers import PASSWORD, add_member, bearer, login, signup

SETUP = "/api/v1/me/2fa/setup"
ENABLE = "/api/v1/me/2fa/enable"
DISABLE = "/api/v1/me/2fa/disable"


def _code(secret: str) -> str:
    return str(pyotp.TOTP(secret).now())


def _wrong_code(secret: str) -> str:
    """A well-formed code the server will not accept right now (nor 30 s either side)."""
    totp = pyotp.TOTP(secret)
    accepted = {totp.at(time.time() + drift) for drift in (-60, -30, 0, 30, 60)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in accepted)


def _turn_on(client: TestClient[Any], headers: dict[str, str]) -> str:
    """Set 2FA up and enable it; returns the secret."""
    response = client.post(SETUP, headers=headers)
    assert response.status_code == 200, response.text
    secret: str = response.json()["secret"]
    enabled = client.post(ENABLE, json={"code": _code(secret)}, headers=headers)
    assert enabled.status_code == 200, enabled.text
    return secret


def _set_tenant_status(settings: Settings, tenant_id: str, status: str) -> None:
    async def run() -> None:
        db = Database(settings.database_url)
        try:
            with tenant_context(uuid.UUID(tenant_id)):  # audited in the tenant's own chain
                async with db.transaction() as session:
                    await session.execute(
                        update(Tenant)
                        .where(Tenant.id == uuid.UUID(tenant_id))
                        .values(status=status, status_reason="unpaid")
                    )
        finally:
            await db.dispose()

    asyncio.run(run())


def test_setup_returns_a_secret_and_leaves_two_factor_off(client: TestClient[Any]) -> None:
    owner = signup(client)
    response = client.post(SETUP, headers=owner["headers"])
    assert response.status_code == 200, response.text
    assert "no-store" in response.headers["cache-control"]
    body = response.json()
    assert len(body["secret"]) >= 16
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    assert "issuer=Huike" in body["otpauth_uri"]
    assert client.get("/api/v1/me", headers=owner["headers"]).json()["two_factor_enabled"] is False
    assert login(client, owner["email"]).is_success


def test_a_new_setup_replaces_the_pending_secret(client: TestClient[Any]) -> None:
    owner = signup(client)
    first = client.post(SETUP, headers=owner["headers"]).json()["secret"]
    second = client.post(SETUP, headers=owner["headers"]).json()["secret"]
    assert first != second
    assert (
        client.post(ENABLE, json={"code": _wrong_code(second)}, headers=owner["headers"]).status_code == 422
    )
    assert client.post(ENABLE, json={"code": _code(second)}, headers=owner["headers"]).status_code == 200


def test_after_enabling_sign_in_needs_a_current_code(client: TestClient[Any]) -> None:
    owner = signup(client)
    secret = _turn_on(client, owner["headers"])
    assert client.get("/api/v1/me", headers=owner["headers"]).json()["two_factor_enabled"] is True

    missing = login(client, owner["email"])
    assert missing.status_code == 401
    assert missing.json()["code"] == "otp_required"
    assert missing.json()["errors"][0]["field"] == "otp"

    wrong = login(client, owner["email"], otp=_wrong_code(secret))
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_credentials"

    right = login(client, owner["email"], otp=_code(secret))
    assert right.is_success, right.text
    assert right.json()["access_token"]
    assert right.json()["refresh_token"]


def test_a_wrong_code_does_not_enable_and_names_the_field(client: TestClient[Any]) -> None:
    owner = signup(client)
    secret = client.post(SETUP, headers=owner["headers"]).json()["secret"]
    response = client.post(ENABLE, json={"code": _wrong_code(secret)}, headers=owner["headers"])
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_code"
    assert response.json()["errors"][0]["field"] == "code"
    assert login(client, owner["email"]).is_success


def test_enabling_without_a_setup_is_a_conflict(client: TestClient[Any]) -> None:
    owner = signup(client)
    response = client.post(ENABLE, json={"code": "123456"}, headers=owner["headers"])
    assert response.status_code == 409
    assert response.json()["code"] == "two_factor_setup_not_started"


def test_setup_and_enable_are_refused_once_two_factor_is_on(client: TestClient[Any]) -> None:
    owner = signup(client)
    secret = _turn_on(client, owner["headers"])
    again = client.post(SETUP, headers=owner["headers"])
    assert again.status_code == 409
    assert again.json()["code"] == "two_factor_already_enabled"
    enable_again = client.post(ENABLE, json={"code": _code(secret)}, headers=owner["headers"])
    assert enable_again.status_code == 409
    # The refused setup did not replace the secret in use.
    assert login(client, owner["email"], otp=_code(secret)).is_success


def test_disabling_needs_the_password_and_a_current_code(client: TestClient[Any]) -> None:
    owner = signup(client)
    secret = _turn_on(client, owner["headers"])
    headers = owner["headers"]

    bad_password = client.post(
        DISABLE, json={"password": "not my password", "code": _code(secret)}, headers=headers
    )
    assert bad_password.status_code == 422
    assert bad_password.json()["errors"][0]["field"] == "password"

    bad_code = client.post(DISABLE, json={"password": PASSWORD, "code": _wrong_code(secret)}, headers=headers)
    assert bad_code.status_code == 422
    assert bad_code.json()["errors"][0]["field"] == "code"

    no_code = client.post(DISABLE, json={"password": PASSWORD}, headers=headers)
    assert no_code.status_code == 422
    assert no_code.json()["errors"][0]["field"] == "code"

    assert login(client, owner["email"]).json()["code"] == "otp_required"
    response = client.post(DISABLE, json={"password": PASSWORD, "code": _code(secret)}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"enabled": False}
    assert login(client, owner["email"]).is_success
    assert client.get("/api/v1/me", headers=headers).json()["two_factor_enabled"] is False


def test_disabling_when_it_is_off_is_a_conflict(client: TestClient[Any]) -> None:
    owner = signup(client)
    response = client.post(DISABLE, json={"password": PASSWORD, "code": "123456"}, headers=owner["headers"])
    assert response.status_code == 409
    assert response.json()["code"] == "two_factor_not_enabled"


def test_disabling_is_refused_while_the_tenant_requires_two_factor(client: TestClient[Any]) -> None:
    owner = signup(client)
    secret = _turn_on(client, owner["headers"])
    assert client.patch(
        "/api/v1/tenant", json={"require_two_factor": True}, headers=owner["headers"]
    ).is_success
    response = client.post(
        DISABLE, json={"password": PASSWORD, "code": _code(secret)}, headers=owner["headers"]
    )
    assert response.status_code == 409
    assert response.json()["code"] == "two_factor_required_by_tenant"
    assert login(client, owner["email"]).json()["code"] == "otp_required"


def test_a_tenant_requirement_confines_a_member_until_they_enable_it(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    _turn_on(client, owner["headers"])
    assert client.patch(
        "/api/v1/tenant", json={"require_two_factor": True}, headers=owner["headers"]
    ).is_success
    assert client.get("/api/v1/roles", headers=owner["headers"]).status_code == 200

    joined = add_member(client, settings, owner["tenant_id"], "admin")
    email, member = joined["email"], joined["headers"]
    refused = client.get("/api/v1/roles", headers=member)
    assert refused.status_code == 403
    assert refused.json()["code"] == "two_factor_setup_required"
    assert client.get("/api/v1/tenant", headers=member).json()["code"] == "two_factor_setup_required"
    assert client.get("/api/v1/me", headers=member).status_code == 200

    secret = _turn_on(client, member)
    assert login(client, email).json()["code"] == "otp_required"
    signed_in = login(client, email, otp=_code(secret))
    assert signed_in.is_success, signed_in.text
    again = bearer(signed_in.json()["access_token"])
    assert client.get("/api/v1/roles", headers=again).status_code == 200
    assert client.get("/api/v1/tenant", headers=again).status_code == 200


def test_setup_and_enable_work_in_a_suspended_tenant_but_disable_does_not(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    _set_tenant_status(settings, owner["tenant_id"], TenantStatus.SUSPENDED)
    secret = _turn_on(client, owner["headers"])
    response = client.post(
        DISABLE, json={"password": PASSWORD, "code": _code(secret)}, headers=owner["headers"]
    )
    assert response.status_code == 423
    assert response.json()["code"] == "tenant_suspended"


def test_an_api_key_cannot_use_the_two_factor_routes(client: TestClient[Any]) -> None:
    owner = signup(client)
    created = client.post(
        "/api/v1/api-keys",
        json={"name": "ERP sync", "grants": {"roles.read": "all"}},
        headers=owner["headers"],
    )
    assert created.status_code == 201, created.text
    key = bearer(created.json()["key"])
    for path, body in (
        (SETUP, None),
        (ENABLE, {"code": "123456"}),
        (DISABLE, {"password": PASSWORD, "code": "1"}),
    ):
        response = client.post(path, json=body, headers=key)
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "not_a_person"


@pytest.mark.anyio
async def test_an_api_key_principal_is_not_a_person_to_the_use_cases(db: Database) -> None:
    api_key = Principal(kind="api_key", tenant_id=uuid.uuid4(), grants={}, api_key_id=uuid.uuid4())
    async with db.transaction() as session:
        for use_case in (
            two_factor.start_setup(session, api_key),
            two_factor.enable(session, api_key, EnableTwoFactor(code="123456")),
            two_factor.disable(session, api_key, DisableTwoFactor(password=PASSWORD, code="123456")),
        ):
            with pytest.raises(Forbidden) as refused:
                await use_case
            assert refused.value.code == "not_a_person"
