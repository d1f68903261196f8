"""Rate limits: per credential and per tenant independently, per IP without a credential;
429 with Retry-After and RateLimit-* headers, which successful answers carry too."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from core.kernel.settings import Settings, SettingsError
from frontend_api.app import create_app
from tests.helpers import PASSWORD, add_member, signup


@pytest.fixture
def limited(settings: Settings) -> Iterator[Any]:
    """A client factory for an app with the given limits (generous ones by default)."""
    clients: list[TestClient[Any]] = []

    def make(**limits: str) -> TestClient[Any]:
        values: dict[str, Any] = {
            "rate_limit_per_tenant": "1000/minute",
            "rate_limit_per_credential": "1000/minute",
            "rate_limit_per_ip": "1000/minute",
            **limits,
        }
        client = TestClient(
            create_app(dataclasses.replace(settings, **values)), raise_server_exceptions=False
        )
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def _until_refused(client: TestClient[Any], headers: dict[str, str], most: int = 20) -> int:
    """GET /api/v1/me until 429; return how many went through."""
    for done in range(most):
        if client.get("/api/v1/me", headers=headers).status_code == 429:
            return done
    raise AssertionError(f"no 429 after {most} requests")


def _assert_refusal(response: Any, limit: int) -> None:
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "rate_limited"
    assert 0 < int(response.headers["retry-after"]) <= 60
    assert response.headers["ratelimit-limit"] == str(limit)
    assert response.headers["ratelimit-remaining"] == "0"
    assert 0 < int(response.headers["ratelimit-reset"]) <= 60


def test_successful_answers_carry_the_rate_limit_headers(limited: Any) -> None:
    client = limited(rate_limit_per_credential="5/minute")
    owner = signup(client)

    first = client.get("/api/v1/me", headers=owner["headers"])
    second = client.get("/api/v1/me", headers=owner["headers"])

    assert first.status_code == 200
    assert (first.headers["ratelimit-limit"], first.headers["ratelimit-remaining"]) == ("5", "4")
    assert second.headers["ratelimit-remaining"] == "3"
    assert 0 < int(first.headers["ratelimit-reset"]) <= 60


def test_one_credential_over_its_limit_is_refused_and_another_of_the_tenant_is_not(
    limited: Any, settings: Settings
) -> None:
    client = limited(rate_limit_per_credential="3/minute")
    owner = signup(client)
    member = add_member(client, settings, owner["tenant_id"], "viewer")

    assert _until_refused(client, owner["headers"]) == 3
    _assert_refusal(client.get("/api/v1/me", headers=owner["headers"]), 3)
    assert client.get("/api/v1/me", headers=member["headers"]).status_code == 200


def test_a_person_in_two_businesses_has_a_credential_limit_in_each(limited: Any) -> None:
    client = limited(rate_limit_per_credential="3/minute")
    first = signup(client, company="First")
    second = signup(client, company="Second", email=first["email"])  # the same account

    assert _until_refused(client, first["headers"]) == 3
    assert client.get("/api/v1/me", headers=second["headers"]).status_code == 200


def test_a_tenant_over_its_limit_is_refused_for_every_credential_and_others_are_not(
    limited: Any, settings: Settings
) -> None:
    client = limited(rate_limit_per_tenant="5/minute")
    owner = signup(client)
    member = add_member(client, settings, owner["tenant_id"], "viewer")  # 1 request of the tenant
    other = signup(client, company="Other")

    assert _until_refused(client, owner["headers"]) == 4
    _assert_refusal(client.get("/api/v1/me", headers=member["headers"]), 5)
    assert client.get("/api/v1/me", headers=other["headers"]).status_code == 200


def test_routes_without_a_credential_are_limited_per_ip(limited: Any) -> None:
    client = limited(rate_limit_per_ip="3/minute")
    owner = signup(client)  # the first request of this IP

    statuses = [
        client.post("/api/v1/auth/token", json={"email": owner["email"], "password": PASSWORD}).status_code
        for _ in range(3)
    ]

    assert statuses == [201, 201, 429]
    assert client.get("/api/v1/me", headers=owner["headers"]).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_rate_limits_can_be_switched_off(limited: Any) -> None:
    client = limited(rate_limit_per_credential="1/minute", rate_limit_enabled=False)
    owner = signup(client)

    responses = [client.get("/api/v1/me", headers=owner["headers"]) for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert "ratelimit-limit" not in responses[0].headers


def test_a_malformed_limit_setting_is_refused_at_start(settings: Settings) -> None:
    with pytest.raises(SettingsError, match="HUIKE_RATE_LIMIT_PER_TENANT"):
        create_app(dataclasses.replace(settings, rate_limit_per_tenant="lots"))


@pytest.mark.redis
def test_on_redis_limits_are_shared_by_every_process(
    limited: Any, redis_url: str, settings: Settings
) -> None:
    first = limited(rate_limit_per_credential="3/minute", redis_url=redis_url)
    second = limited(rate_limit_per_credential="3/minute", redis_url=redis_url)
    owner = signup(first)
    member = add_member(first, settings, owner["tenant_id"], "viewer")

    assert first.get("/api/v1/me", headers=owner["headers"]).headers["ratelimit-remaining"] == "2"
    assert second.get("/api/v1/me", headers=owner["headers"]).headers["ratelimit-remaining"] == "1"
    assert first.get("/api/v1/me", headers=owner["headers"]).status_code == 200
    _assert_refusal(second.get("/api/v1/me", headers=owner["headers"]), 3)
    assert second.get("/api/v1/me", headers=member["headers"]).status_code == 200


@pytest.mark.redis
def test_on_redis_a_tenant_over_its_limit_is_refused(
    limited: Any, redis_url: str, settings: Settings
) -> None:
    client = limited(rate_limit_per_tenant="4/minute", redis_url=redis_url)
    owner = signup(client)
    other = signup(client, company="Other")

    assert _until_refused(client, owner["headers"]) == 4
    _assert_refusal(client.get("/api/v1/me", headers=owner["headers"]), 4)
    assert client.get("/api/v1/me", headers=other["headers"]).status_code == 200


def test_an_unreachable_counter_store_lets_requests_through(limited: Any) -> None:
    client = limited(rate_limit_per_credential="1/minute", redis_url="redis://127.0.0.1:1/0")
    owner = signup(client)

    responses = [client.get("/api/v1/me", headers=owner["headers"]) for _ in range(2)]

    assert [r.status_code for r in responses] == [200, 200]
    assert "ratelimit-limit" not in responses[0].headers
