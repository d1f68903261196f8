"""authlib's models over ours: the request built from plain values, and the client, code
and token records authlib's grants ask questions of (``check_client_secret``,
``get_scope``, ``is_revoked``...)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request, TokenMixin

from core.apps.models import App, AppAuthorizationCode, AppInstallation, AppToken, ClientType, TokenKind
from core.apps.scopes import join_scopes
from core.apps.tokens import effective_scopes
from core.kernel.clock import utcnow
from core.security.opaque import digest, same_digest

__all__ = ["AUTHENTICATED", "ClientRecord", "CodeRecord", "OAuthRequest", "TokenRecord"]

AUTHENTICATED = ["client_secret_basic", "client_secret_post"]
_PUBLIC_ENDPOINTS = {"token", "revocation"}  # introspection needs a secret


class _Payload(OAuth2Payload):
    def __init__(self, params: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in params:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class OAuthRequest(OAuth2Request):
    """authlib's request, built from plain values the HTTP adapter reads off its framework:
    the query of an authorization request, the form body of a token request.

    authlib's own constructor refuses a URI that is not https. TLS ends at the load balancer
    in front of Huike, so the scheme the app sees says nothing about the client's transport:
    that check belongs to the deployment, and this constructor skips it.
    """

    def __init__(
        self, method: str, uri: str, headers: Mapping[str, str], params: list[tuple[str, str]]
    ) -> None:
        self.method = method
        self.uri = uri
        self.headers = headers
        self._body = None
        self.payload = _Payload(params)
        self.client: ClientRecord | None = None
        self.auth_method: str | None = None
        self.user: Any = None
        self.authorization_code: CodeRecord | None = None
        self.refresh_token: TokenRecord | None = None
        self.credential = None
        self._scope: str | None = None

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data


@dataclass(eq=False)
class ClientRecord(ClientMixin):
    app: App

    def get_client_id(self) -> str:
        return self.app.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # the redirect URI is always named and matched exactly

    def get_allowed_scope(self, scope: str | None) -> str:
        return scope if scope else join_scopes(self.app.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.app.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        stored = self.app.client_secret_hash
        return stored is not None and same_digest(stored, digest(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.app.client_type == ClientType.PUBLIC:
            return method == "none" and endpoint in _PUBLIC_ENDPOINTS
        return method in AUTHENTICATED

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials":
            return self.app.client_type == ClientType.CONFIDENTIAL
        return grant_type in ("authorization_code", "refresh_token")


@dataclass(eq=False)
class CodeRecord:
    row: AppAuthorizationCode
    installation: AppInstallation

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return join_scopes(self.row.scopes)

    @property
    def code_challenge(self) -> str:
        return self.row.code_challenge

    @property
    def code_challenge_method(self) -> str:
        return self.row.code_challenge_method


@dataclass(eq=False)
class TokenRecord(TokenMixin):
    row: AppToken
    installation: AppInstallation
    app: App

    def check_client(self, client: ClientRecord) -> bool:
        return self.row.app_id == client.app.id

    def get_scope(self) -> str:
        return join_scopes(effective_scopes(self.row.scopes, self.installation, self.app))

    def get_expires_in(self) -> int:
        return max(0, int((self.row.expires_at - self.row.created_at).total_seconds()))

    def is_expired(self) -> bool:
        return self.row.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        spent = self.row.kind == TokenKind.REFRESH and self.row.used_at is not None
        return spent or self.row.revoked_at is not None or self.installation.uninstalled_at is not None
