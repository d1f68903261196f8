"""authlib's authorization server, run over data loaded beforehand.

authlib's server side is synchronous: its grants call ``query_client``,
``query_authorization_code``, ``save_token``... and expect answers at once. Our database is
asynchronous. So one :class:`OAuthContext` is filled asynchronously first with everything a
request can need (the clients it names, the code, refresh token or installation it presents),
then a :class:`HuikeAuthorizationServer` is built for that one request and runs authlib's
validation and token generation (pure computation: no I/O, so it runs on the event loop
without blocking it). Whatever authlib wants written (tokens, a spent code, a revocation) is
collected on the context, and the caller persists it afterwards in one transaction, where
the database decides races (a code or refresh token is spent by a conditional UPDATE).

authlib does the protocol: client authentication (``client_secret_basic``,
``client_secret_post``, ``none``), redirect-URI and response-type checks, PKCE (RFC 7636),
scope checks, the token response and RFC 6749 errors, revocation (RFC 7009) and
introspection (RFC 7662). We supply the models and the storage.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, ClientCredentialsGrant, RefreshTokenGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from core.apps.models import TokenKind
from core.apps.oauth_context import Issuance, NewCode, NewToken, OAuthContext, Revocation
from core.apps.oauth_models import AUTHENTICATED, ClientRecord, CodeRecord, OAuthRequest, TokenRecord
from core.apps.scopes import join_scopes, split_scopes
from core.apps.tokens import ACCESS_PREFIX, CODE_PREFIX, REFRESH_PREFIX, effective_scopes, mint
from core.kernel.clock import utcnow
from core.kernel.ids import new_id
from core.security.opaque import digest, same_digest

__all__ = ["HuikeAuthorizationServer"]

_ANY_CLIENT = [*AUTHENTICATED, "none"]


def _client_of(request: OAuthRequest) -> ClientRecord:
    if request.client is None:
        raise RuntimeError("the client is authenticated before this")
    return request.client


class _ScopeCheck:
    """Unknown scopes and scopes the app did not register are ``invalid_scope``."""

    request: OAuthRequest
    server: HuikeAuthorizationServer

    def validate_requested_scope(self) -> None:
        names = split_scopes(self.request.payload.scope)
        unknown = self.server.context.catalogue.unknown(names)
        if unknown:
            raise InvalidScopeError(f"Unknown scope '{unknown[0]}'.")
        client = self.request.client
        missing = sorted(set(names) - set(client.app.scopes)) if client is not None else []
        if missing:
            raise InvalidScopeError(f"The app did not register the scope '{missing[0]}'.")


class CodeGrant(_ScopeCheck, AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = _ANY_CLIENT

    def generate_authorization_code(self) -> str:
        consent = self.server.context.consent
        if consent is None:
            raise RuntimeError("a code is issued only after the admin's consent")
        self._code_id = new_id()
        return mint(CODE_PREFIX, consent.tenant_id, self._code_id)

    def save_authorization_code(self, code: str, request: OAuthRequest) -> None:
        context = self.server.context
        if context.consent is None:
            raise RuntimeError("a code is saved only after the admin's consent")
        context.new_code = NewCode(
            id=self._code_id,
            code_hash=digest(code),
            redirect_uri=request.payload.redirect_uri,
            scopes=list(context.consent.scopes),
            code_challenge=request.payload.data["code_challenge"],
            code_challenge_method=request.payload.data["code_challenge_method"],
            expires_at=utcnow() + timedelta(seconds=context.policy.code_ttl),
        )

    def query_authorization_code(self, code: str, client: ClientRecord) -> CodeRecord | None:
        context = self.server.context
        found = context.code
        if (
            found is None
            or not same_digest(found.row.code_hash, digest(code))
            or found.row.app_id != client.app.id
        ):
            return None
        if found.row.used_at is not None:
            # RFC 6749 §4.1.2: a code used twice revokes what it was exchanged for.
            context.reused_families.append((found.row.tenant_id, found.row.id))
            return None
        if found.row.expires_at <= utcnow() or found.installation.uninstalled_at is not None:
            return None
        context.grant_installation = found.installation
        return found

    def delete_authorization_code(self, authorization_code: CodeRecord) -> None:
        """Nothing here: the code is spent with the issuance, atomically (see Issuance)."""

    def authenticate_user(self, authorization_code: CodeRecord) -> uuid.UUID:
        return authorization_code.row.user_id


class RequireS256(CodeChallenge):
    """PKCE for every client, confidential ones too (RFC 9700 §2.1.1: it also stops code
    injection), and only with S256: ``plain`` protects nothing a log could not leak."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: CodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE with S256 is required.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class RefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = _ANY_CLIENT
    request: OAuthRequest
    server: HuikeAuthorizationServer
    #: Rotation: every refresh hands out a new refresh token and spends the old one.
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> TokenRecord | None:
        context = self.server.context
        found = context.refresh_token
        client = self.request.client
        if found is None or not same_digest(found.row.token_hash, digest(refresh_token)):
            return None
        if client is None or found.row.app_id != client.app.id:
            return None
        if found.row.used_at is not None and found.row.revoked_at is None:
            # A spent refresh token again: someone holds a copy. Revoke the whole family.
            context.reused_families.append((found.row.tenant_id, found.row.family_id))
            return None
        if found.is_revoked() or found.is_expired():
            return None
        context.grant_installation = found.installation
        return found

    def authenticate_user(self, refresh_token: TokenRecord) -> uuid.UUID:
        # Refresh tokens come from consents only, so a person approved them.
        return refresh_token.row.user_id or refresh_token.installation.installed_by

    def revoke_old_credential(self, refresh_token: TokenRecord) -> None:
        """Nothing here: the old token is spent with the issuance, atomically."""


class ClientCredentials(_ScopeCheck, ClientCredentialsGrant):
    """Tokens for one business the app is installed in, named by the ``tenant`` parameter
    (the tenant id from the installation); never a refresh token (RFC 6749 §4.4.3)."""

    TOKEN_ENDPOINT_AUTH_METHODS = AUTHENTICATED

    def validate_token_request(self) -> None:
        super().validate_token_request()
        if not self.request.form.get("tenant"):
            raise InvalidRequestError("Missing 'tenant': the id of the business the app is installed in.")
        installation = self.server.context.installation
        client = _client_of(self.request)
        if (
            installation is None
            or installation.app_id != client.app.id
            or installation.uninstalled_at is not None
        ):
            raise InvalidGrantError("The app is not installed in that business.")
        refused = sorted(set(split_scopes(self.request.payload.scope)) - set(installation.granted_scopes))
        if refused:
            raise InvalidScopeError(f"The business did not grant the scope '{refused[0]}'.")
        self.server.context.grant_installation = installation

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        installation = self.server.context.grant_installation
        if installation is None:
            raise RuntimeError("validate_token_request found the installation")
        granted = effective_scopes(installation.granted_scopes, installation, _client_of(self.request).app)
        scope = self.request.payload.scope or join_scopes(granted)
        token = self.generate_token(scope=scope, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class _SubjectToken:
    server: HuikeAuthorizationServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        found = self.server.context.subject_token
        if found is None or not same_digest(found.row.token_hash, digest(token_string)):
            return None
        return found


class Revoking(_SubjectToken, RevocationEndpoint):
    CLIENT_AUTH_METHODS = _ANY_CLIENT

    def revoke_token(self, token: TokenRecord, request: OAuthRequest) -> None:
        family = token.row.family_id if token.row.kind == TokenKind.REFRESH else None
        self.server.context.revocations.append(
            Revocation(token.row.tenant_id, token.row.app_id, token.row.id, family)
        )


class Introspecting(_SubjectToken, IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = AUTHENTICATED

    def check_permission(self, token: TokenRecord, client: ClientRecord, request: OAuthRequest) -> bool:
        return token.check_client(client)  # an app introspects its own tokens only

    def introspect_token(self, token: TokenRecord) -> dict[str, Any]:
        row = token.row
        body: dict[str, Any] = {
            "active": True,
            "scope": token.get_scope(),
            "client_id": token.app.client_id,
            "exp": int(row.expires_at.timestamp()),
            "iat": int(row.created_at.timestamp()),
            "iss": self.server.context.policy.issuer,
            # The resource owner is the business that installed the app.
            "sub": str(row.tenant_id),
            "tenant_id": str(row.tenant_id),
            "installation_id": str(row.installation_id),
            "token_use": row.kind,
        }
        if row.kind == TokenKind.ACCESS:
            body["token_type"] = "Bearer"  # noqa: S105  (a token type, not a secret)
        return body


class HuikeAuthorizationServer(AuthorizationServer):
    """One per request, over its :class:`OAuthContext`; answers are ``(status, body, headers)``."""

    def __init__(self, context: OAuthContext) -> None:
        super().__init__(scopes_supported=[s.name for s in context.catalogue])
        self.context = context
        self.register_grant(CodeGrant, [RequireS256(required=True)])
        self.register_grant(RefreshGrant)
        self.register_grant(ClientCredentials)
        self.register_endpoint(Revoking)
        self.register_endpoint(Introspecting)
        self.register_token_generator(
            "default",
            BearerTokenGenerator(self._access_token, self._refresh_token, self._expires_in),
        )

    def query_client(self, client_id: str) -> ClientRecord | None:
        return self.context.clients.get(client_id)

    def create_oauth2_request(self, request: OAuthRequest) -> OAuthRequest:
        return request

    def handle_response(
        self, status: int, body: Any, headers: list[tuple[str, str]]
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals: what happened is read off the context."""

    def _expires_in(self, client: ClientRecord, grant_type: str) -> int:
        return self.context.policy.access_ttl

    def _mint(self, prefix: str, kind: str, ttl: int) -> str:
        installation = self.context.grant_installation
        if installation is None:
            raise RuntimeError("a token is minted only for a validated grant")
        row_id = new_id()
        text = mint(prefix, installation.tenant_id, row_id)
        self.context.minted[text] = NewToken(row_id, kind, digest(text), utcnow() + timedelta(seconds=ttl))
        return text

    def _access_token(self, **_: Any) -> str:
        return self._mint(ACCESS_PREFIX, TokenKind.ACCESS, self.context.policy.access_ttl)

    def _refresh_token(self, **_: Any) -> str:
        return self._mint(REFRESH_PREFIX, TokenKind.REFRESH, self.context.policy.refresh_ttl)

    def save_token(self, token: dict[str, Any], request: OAuthRequest) -> None:
        context = self.context
        installation = context.grant_installation
        if installation is None:
            raise RuntimeError("a token is saved only for a validated grant")
        code, refresh = request.authorization_code, request.refresh_token
        user_id: uuid.UUID | None
        if code is not None:
            family_id, user_id = code.row.id, code.row.user_id
        elif refresh is not None:
            family_id, user_id = refresh.row.family_id, refresh.row.user_id
        else:
            family_id, user_id = new_id(), None
        tokens = [context.minted[token["access_token"]]]
        if "refresh_token" in token:
            tokens.append(context.minted[token["refresh_token"]])
        context.issuance = Issuance(
            tenant_id=installation.tenant_id,
            installation_id=installation.id,
            app_id=installation.app_id,
            family_id=family_id,
            grant_type=request.payload.grant_type,
            scopes=split_scopes(token.get("scope")),
            user_id=user_id,
            tokens=tokens,
            spends_code=code.row.id if code is not None else None,
            spends_refresh=refresh.row.id if refresh is not None else None,
        )
        # Extension members of the answer: which business and installation the token is for.
        token["tenant_id"] = str(installation.tenant_id)
        token["installation_id"] = str(installation.id)
