"""Who may call what. Every route handler declares exactly one of:

* ``public=True``: signup, login, health, schema...;
* ``permission="domain.action"``: a tenant member or API key holding that permission
  (``permission=AUTHENTICATED`` for any signed-in member, such as ``/me``: a person, so an
  API key is refused there with ``not_a_person``);
* ``platform=True``: a platform admin.

One app-level guard enforces it; a route that declares none is refused (and a test walks
every route). The credential is a Bearer access token (a JWT), an API key
(``hk_<tenant>_<key>_<secret>``, see :mod:`core.security.api_keys`) or an installed app's
OAuth access token (``hkat_<tenant>_<token>_<secret>``, see :mod:`core.apps.tokens`). The
tenant of the request comes from the verified credential only, and is put in context here,
before any session opens.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from core.apps import tokens as app_tokens
from core.audit import service as audit
from core.audit.context import ActorType, AuditContext, current_audit_context, set_audit_context
from core.kernel.errors import Forbidden, Locked, Unauthorized
from core.kernel.models import TenantStatus
from core.kernel.tenancy import enter_tenant
from core.security import api_keys
from core.security.principal import Principal
from frontend_api.request_transaction import (
    abandon_request_transaction,
    begin_request_transaction,
    handler_takes_session,
)
from frontend_api.services import Services

__all__ = ["AUTHENTICATED", "PlatformPrincipal", "authorize", "declared_access", "principal_of"]

AUTHENTICATED = "authenticated"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class PlatformPrincipal:
    def __init__(self, user_id: uuid.UUID) -> None:
        self.user_id = user_id


def declared_access(opt: dict[str, Any]) -> str | None:
    """What the handler declared, or None if it declared nothing."""
    if opt.get("public"):
        return "public"
    if opt.get("platform"):
        return "platform"
    permission = opt.get("permission")
    return permission if isinstance(permission, str) else None


def _bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "Sign in and send the access token as 'Authorization: Bearer <token>'.",
            code="not_authenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


def _request_audit_context(connection: ASGIConnection[Any, Any, Any, Any]) -> AuditContext:
    return AuditContext(
        actor_type=ActorType.ANONYMOUS,
        ip=connection.client.host if connection.client else None,
        user_agent=connection.headers.get("user-agent"),
        request_id=current_audit_context().request_id,
    )


async def authorize(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    # Who and where, for the audit entries this request writes; the actor follows once known.
    set_audit_context(_request_audit_context(connection))
    access = declared_access(handler.opt)
    if access is None:
        raise Forbidden("This route declares no permission.", code="undeclared_permission")
    if access == "public":
        return
    services: Services = connection.app.state.services
    token = _bearer(connection)
    if access == "platform":
        claims = services.signer.verify(token, "platform")
        connection.state.principal = PlatformPrincipal(uuid.UUID(claims["sub"]))
        set_audit_context(current_audit_context().with_actor(ActorType.PLATFORM_ADMIN, claims["sub"]))
        return
    principal = await _resolve_principal(services, token, connection, handler)
    connection.state.principal = principal
    refusal = _refusal(services, access, principal, handler, connection)
    if refusal is not None:
        # The handler will not run: end the transaction the guard may have opened for it
        # before the denial takes one of its own.
        await abandon_request_transaction(connection)
        if not isinstance(refusal, Locked):
            await _record_denial(services, connection, access, refusal.code)
        raise refusal


def _refusal(
    services: Services,
    access: str,
    principal: Principal,
    handler: BaseRouteHandler,
    connection: ASGIConnection[Any, Any, Any, Any],
) -> Forbidden | Locked | None:
    """Why this caller may not call this handler (a denial to audit, or a suspended
    business's write), or None."""
    if access == AUTHENTICATED and principal.kind != "user":
        return Forbidden(
            "This route is for a signed-in person; an API key or an app cannot use it.", code="not_a_person"
        )
    if principal.two_factor_setup_required and not handler.opt.get("two_factor_setup"):
        return Forbidden(
            "This business requires two-factor authentication; set it up at /api/v1/me/2fa.",
            code="two_factor_setup_required",
        )
    if access != AUTHENTICATED and not principal.can(access):
        if principal.kind == "app":
            return _insufficient_scope(services, access)
        return Forbidden(f"You need the permission {access!r} for this.", code="permission_denied")
    if (
        principal.tenant_status == TenantStatus.SUSPENDED
        and connection.scope.get("method") not in _SAFE_METHODS
        and not handler.opt.get("allowed_when_suspended")
    ):
        return Locked(
            f"This business is suspended: {principal.tenant_status_reason or 'contact support'}. "
            "You can sign in and read, but not make changes.",
            code="tenant_suspended",
        )
    return None


def _insufficient_scope(services: Services, permission: str) -> Forbidden:
    """An app token lacking the scope: RFC 6750's ``insufficient_scope``, naming the scopes
    that would do (none, for what no app may do)."""
    scopes = [s.name for s in services.scopes if permission in s.permissions]
    hint = f"one of the scopes {', '.join(scopes)}" if scopes else "a permission no app scope grants"
    return Forbidden(
        f"This app's token lacks {hint} (needed: {permission!r}).",
        code="insufficient_scope",
        headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{" ".join(scopes)}"'},
    )


async def _resolve_principal(
    services: Services, token: str, connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> Principal:
    if api_keys.is_api_key(token):
        return await _resolve_api_key(services, token)
    if app_tokens.is_app_token(token):
        return await _resolve_app(services, token)
    return await _resolve_member(services, token, connection, handler)


async def _resolve_member(
    services: Services, token: str, connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> Principal:
    claims = services.signer.verify(token, "access")
    tenant_id = uuid.UUID(claims["tid"])
    # The request's task ends with the request, so the context needs no reset.
    enter_tenant(tenant_id)
    if handler_takes_session(connection, handler):
        # In the transaction the handler's ``session`` continues (one per request).
        transaction = await begin_request_transaction(connection, services.db)
        try:
            principal = await services.auth.principal_for_access_token(transaction.session, claims)
        except BaseException as exc:
            await abandon_request_transaction(connection, exc)
            raise
    else:
        async with services.db.transaction() as session:
            principal = await services.auth.principal_for_access_token(session, claims)
    set_audit_context(current_audit_context().with_actor(ActorType.USER, principal.user_id))
    return principal


async def _resolve_api_key(services: Services, token: str) -> Principal:
    tenant_id, _ = api_keys.parse_key(token)
    # As for a member: the tenant is in context before the first query.
    enter_tenant(tenant_id)
    async with services.db.transaction() as session:
        principal = await api_keys.principal_for_api_key(session, token)
        set_audit_context(current_audit_context().with_actor(ActorType.API_KEY, principal.api_key_id))
        await audit.record(session, "api_key.used", entity_type="api_keys", entity_id=principal.api_key_id)
    return principal


async def _resolve_app(services: Services, token: str) -> Principal:
    parsed = app_tokens.parse(app_tokens.ACCESS_PREFIX, token)
    if parsed is None:
        raise Unauthorized("The token is invalid or expired.", code="invalid_token")
    enter_tenant(parsed[0])
    async with services.db.transaction() as session:
        principal = await app_tokens.principal_for_app_token(session, services.scopes, token)
    set_audit_context(current_audit_context().with_actor(ActorType.APP, principal.app_id))
    return principal


async def _record_denial(
    services: Services, connection: ASGIConnection[Any, Any, Any, Any], permission: str, code: str
) -> None:
    """The request fails, so the denial is written in a transaction of its own."""
    async with services.db.transaction() as session:
        await audit.record(
            session,
            "permission.denied",
            details={
                "code": code,
                "permission": permission,
                "method": connection.scope.get("method"),
                "path": connection.url.path,
            },
        )


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal = connection.state.get("principal")
    if not isinstance(principal, Principal):
        raise Unauthorized("Not signed in.", code="not_authenticated")
    return principal
