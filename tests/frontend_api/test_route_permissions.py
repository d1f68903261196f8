"""Every route declares its permission or is on the explicit public list."""

from __future__ import annotations

from litestar import Litestar

from frontend_api.security import declared_access

PUBLIC = {
    "/healthz",
    "/readyz",
    "/api/v1/signup",
    "/api/v1/auth/token",
    "/api/v1/auth/refresh",
    "/api/v1/auth/password-reset",
    "/api/v1/auth/password-reset/confirm",
    "/api/v1/invitations/accept",
    "/api/platform/auth/token",
    # A business's web form posts here; the token in the path names the tenant and the form.
    "/api/v1/public/lead-forms/{token:str}",
    # OAuth: the app authenticates itself (client secret or PKCE), not with a member's token.
    "/oauth/token",
    "/oauth/revoke",
    "/oauth/introspect",
    "/.well-known/oauth-authorization-server",
}


def _handlers(app: Litestar) -> list[tuple[str, str, str | None]]:
    found = []
    for route in app.routes:
        for handler in route.route_handlers:  # type: ignore[attr-defined]
            for method in sorted(getattr(handler, "http_methods", {"WS"})):
                found.append((method, route.path, declared_access(handler.opt)))
    return found


def test_every_route_declares_a_permission_or_is_public(app: Litestar) -> None:
    undeclared = [(m, p) for m, p, access in _handlers(app) if access is None]
    assert undeclared == []


def test_only_the_listed_routes_are_public(app: Litestar) -> None:
    public = {
        p
        for m, p, access in _handlers(app)
        if access == "public" and m != "OPTIONS" and not p.startswith("/schema")
    }
    assert public == PUBLIC


def test_a_route_without_a_declaration_is_refused(settings: object) -> None:
    from litestar import get
    from litestar.testing import TestClient

    from frontend_api.app import create_app

    @get("/api/v1/forgotten")
    async def forgotten() -> dict[str, str]:
        return {"leaked": "yes"}

    app = create_app(settings)  # type: ignore[arg-type]
    app.register(forgotten)
    with TestClient(app) as client:
        response = client.get("/api/v1/forgotten")
    assert response.status_code == 403
    assert response.json()["code"] == "undeclared_permission"
