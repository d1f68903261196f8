"""The OAuth 2 endpoints of the app platform (docs/plugins/apps.md).

``/oauth/authorize`` is for the signed-in admin's front end: ``GET`` answers the consent
screen as JSON, ``POST`` (same query, the decision in the body) answers where to send the
browser. ``/oauth/token``, ``/oauth/revoke`` and ``/oauth/introspect`` are for the app's
server, which authenticates itself (HTTP Basic or form ``client_secret``); their errors are
RFC 6749 JSON errors.
"""

from __future__ import annotations

from typing import Any

import msgspec
from authlib.oauth2 import OAuth2Error
from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody

from core.apps import consent
from core.apps.permissions import INSTALL
from core.apps.schemas import ConsentDecision, ConsentView
from frontend_api.deps import PrincipalDep, ServicesDep, SessionDep
from frontend_api.oauth import (
    authorization_request,
    form_operation,
    form_request,
    oauth_error,
    oauth_response,
)

__all__ = ["ConsentAnswer", "OAuthController", "authorization_server_metadata"]

_CLIENT = {
    "client_id": "The app's client id (with `client_secret_post`, or for a public client).",
    "client_secret": "The app's secret, when it does not use HTTP Basic (`client_secret_basic`).",
}
_TOKEN_FORM = {
    "grant_type": "`authorization_code`, `refresh_token` or `client_credentials`.",
    "code": "authorization_code: the code from the redirect.",
    "redirect_uri": "authorization_code: the redirect URI of the authorization request.",
    "code_verifier": "authorization_code: the PKCE verifier whose S256 hash was the code_challenge.",
    "refresh_token": "refresh_token: the refresh token (it is spent; the answer holds a new one).",
    "tenant": "client_credentials: the id of the business the app is installed in.",
    "scope": "Optional, space-delimited: fewer scopes than granted.",
    **_CLIENT,
}
_TOKEN_OF = {
    "token": "An access or refresh token of this app.",
    "token_type_hint": "Optional: `access_token` or `refresh_token`.",
    **_CLIENT,
}
_AUTHORIZE_QUERY = (
    "Query: `response_type=code`, `client_id`, `redirect_uri` (one the app registered, exactly), "
    "`scope` (space-delimited; default: every scope the app registered), `state`, "
    "`code_challenge` and `code_challenge_method=S256` (PKCE is required)."
)


class ConsentAnswer(msgspec.Struct, kw_only=True):
    #: Where to send the browser: the app's redirect URI with ``code`` and ``state``, or
    #: with ``error=access_denied``.
    redirect_to: str


class OAuthController(Controller):
    path = "/oauth"
    tags = ["oauth"]
    exception_handlers = {OAuth2Error: oauth_error}

    @get(
        "/authorize",
        permission=INSTALL,
        summary="The consent screen of an authorization request, as JSON",
        description=_AUTHORIZE_QUERY
        + " An invalid request answers an RFC 6749 error; with `redirect_to` when it may go back to the app.",
    )
    async def consent(
        self,
        request: Request[Any, Any, Any],
        session: SessionDep,
        services: ServicesDep,
        principal: PrincipalDep,
    ) -> ConsentView:
        oauth = services.oauth
        return await consent.describe(
            session, oauth.catalogue, oauth.policy, principal, authorization_request(request)
        )

    @post(
        "/authorize",
        permission=INSTALL,
        status_code=200,
        idempotency=False,  # the answer holds a code, which is never stored in clear
        summary="Approve (installing the app) or deny an authorization request",
        description=_AUTHORIZE_QUERY + " Body: `decision` (`approve` or `deny`) and optionally `scopes`, "
        "a subset of those requested.",
    )
    async def decide(
        self,
        request: Request[Any, Any, Any],
        session: SessionDep,
        services: ServicesDep,
        principal: PrincipalDep,
        data: JSONBody[ConsentDecision],
    ) -> ConsentAnswer:
        oauth = services.oauth
        location = await consent.decide(
            session, oauth.catalogue, oauth.policy, principal, authorization_request(request), data
        )
        return ConsentAnswer(redirect_to=location)

    @post(
        "/token",
        public=True,
        rate_limit="oauth",
        summary="Exchange a code, refresh a token, or get a client-credentials token",
        operation_class=form_operation(_TOKEN_FORM, ["grant_type"]),
    )
    async def token(self, request: Request[Any, Any, Any], services: ServicesDep) -> Response[Any]:
        return oauth_response(await services.oauth.token(await form_request(request)))

    @post(
        "/revoke",
        public=True,
        rate_limit="oauth",
        summary="Revoke a token (RFC 7009); a refresh token takes its whole family with it",
        operation_class=form_operation(_TOKEN_OF, ["token"]),
    )
    async def revoke(self, request: Request[Any, Any, Any], services: ServicesDep) -> Response[Any]:
        return oauth_response(await services.oauth.revoke(await form_request(request)))

    @post(
        "/introspect",
        public=True,
        rate_limit="oauth",
        summary="Introspect one of the app's tokens (RFC 7662)",
        operation_class=form_operation(_TOKEN_OF, ["token"]),
    )
    async def introspect(self, request: Request[Any, Any, Any], services: ServicesDep) -> Response[Any]:
        return oauth_response(await services.oauth.introspect(await form_request(request)))


@get(
    "/.well-known/oauth-authorization-server",
    public=True,
    tags=["oauth"],
    summary="Authorization server metadata (RFC 8414)",
)
async def authorization_server_metadata(services: ServicesDep) -> dict[str, Any]:
    base = services.settings.public_url.rstrip("/")
    return {
        "issuer": services.oauth.policy.issuer,
        # Where the app sends the browser: the web front end's consent page.
        "authorization_endpoint": services.settings.oauth_consent_url or f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "introspection_endpoint": f"{base}/oauth/introspect",
        "scopes_supported": [scope.name for scope in services.scopes],
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
    }
