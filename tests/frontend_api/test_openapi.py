"""The OpenAPI document at /schema says how to authenticate and shows examples."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_the_schema_declares_its_security_schemes(client: TestClient[Any]) -> None:
    schema = client.get("/schema/openapi.json").json()
    assert set(schema["components"]["securitySchemes"]) == {"BearerToken", "PlatformToken"}


def test_protected_operations_name_their_credential_and_public_ones_none(client: TestClient[Any]) -> None:
    schema = client.get("/schema/openapi.json").json()
    for method, path, op in _operations(schema):
        if path in {"/api/v1/auth/token", "/api/v1/signup", "/healthz", "/api/platform/auth/token"}:
            assert "security" not in op, (method, path)
        elif path.startswith("/api/platform/tenants"):
            assert op["security"] == [{"PlatformToken": []}], (method, path)
        elif path == "/api/v1/me":
            assert op["security"] == [{"BearerToken": []}]


def test_request_bodies_carry_examples(client: TestClient[Any]) -> None:
    schema = client.get("/schema/openapi.json").json()
    signup = schema["components"]["schemas"]["SignupCommand"]["properties"]
    assert signup["email"]["examples"]
    login = schema["components"]["schemas"]["LoginCommand"]["properties"]
    assert login["password"]["examples"]
