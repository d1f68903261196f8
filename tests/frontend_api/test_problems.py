"""No input yields a 500: every error is an RFC 9457 problem with a code and the field."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from tests.helpers import signup


def _is_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["title"]
    assert body["detail"]
    assert body["type"].endswith(code)
    return body


def test_malformed_json_is_a_problem(client: TestClient[Any]) -> None:
    response = client.post(
        "/api/v1/auth/token", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    _is_problem(response, 400, "malformed_body")


def test_a_wrong_type_names_the_field(client: TestClient[Any]) -> None:
    body = _is_problem(
        client.post("/api/v1/auth/token", json={"email": "a@example.com", "password": 5}),
        422,
        "validation_failed",
    )
    assert body["errors"][0]["field"] == "password"
    assert "str" in body["errors"][0]["reason"]


def test_a_missing_field_is_named(client: TestClient[Any]) -> None:
    body = _is_problem(client.post("/api/v1/auth/token", json={"password": "x"}), 422, "validation_failed")
    assert body["errors"][0]["field"] == "email"


def test_an_unknown_field_is_refused_by_name(client: TestClient[Any]) -> None:
    body = _is_problem(
        client.post("/api/v1/auth/token", json={"email": "a@example.com", "password": "x", "tenant_id": "t"}),
        422,
        "validation_failed",
    )
    assert body["errors"][0]["field"] == "tenant_id"


def test_an_oversized_body_is_refused(client: TestClient[Any]) -> None:
    response = client.post(
        "/api/v1/auth/token", content=b"x" * 2_000_000, headers={"Content-Type": "application/json"}
    )
    _is_problem(response, 413, "body_too_large")


def test_a_bad_uuid_in_the_path_is_a_not_found(client: TestClient[Any]) -> None:
    owner = signup(client)
    response = client.get("/api/v1/roles/not-a-uuid", headers=owner["headers"])
    _is_problem(response, 404, "not_found")


def test_a_bad_query_parameter_is_a_problem(client: TestClient[Any]) -> None:
    owner = signup(client)
    body = _is_problem(
        client.get("/api/v1/roles?limit=abc", headers=owner["headers"]), 422, "validation_failed"
    )
    assert body["errors"][0]["field"] == "limit"
    body = _is_problem(client.get("/api/v1/roles?limit=1000", headers=owner["headers"]), 422, "out_of_range")
    assert body["errors"][0]["field"] == "limit"
    body = _is_problem(
        client.get("/api/v1/roles?cursor=@@@", headers=owner["headers"]), 422, "invalid_cursor"
    )


def test_a_weak_password_gets_a_clear_message(client: TestClient[Any]) -> None:
    response = client.post(
        "/api/v1/signup",
        json={"company_name": "Acme", "owner_name": "O", "email": "o@example.com", "password": "short"},
    )
    body = _is_problem(response, 422, "password_too_short")
    assert body["errors"] == [
        {"field": "password", "reason": "Password must be at least 10 characters long."}
    ]


def test_every_response_carries_a_request_id(client: TestClient[Any]) -> None:
    response = client.get("/healthz")
    assert response.headers["x-request-id"]
    response = client.post("/api/v1/auth/token", json={})
    assert response.json()["request_id"] == response.headers["x-request-id"]
