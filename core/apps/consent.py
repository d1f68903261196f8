"""The consent screen: a signed-in admin (``apps.install``) sees who asks for what, then
approves (installing the app with the scopes they grant) or denies.

authlib validates the authorization request (client, exact redirect URI, response type,
scopes, PKCE) both times; the approval and the code it issues are written in the admin's
request transaction, in the admin's tenant.
"""

from __future__ import annotations

import uuid

from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.apps.audience import mark_installed
from core.apps.events import AppInstalled
from core.apps.models import App, AppAuthorizationCode, AppInstallation, AppStatus
from core.apps.oauth_context import Consent, OAuthContext
from core.apps.oauth_models import OAuthRequest
from core.apps.oauth_server import HuikeAuthorizationServer
from core.apps.oauth_store import load_clients
from core.apps.schemas import ConsentDecision, ConsentView, DeveloperView, Notice, TenantRef
from core.apps.scopes import ScopeCatalogue, split_scopes
from core.apps.tokens import AppTokenPolicy
from core.audit import service as audit
from core.events.service import record_event
from core.kernel.clock import utcnow
from core.kernel.errors import Forbidden, Invalid, one_of
from core.kernel.models import Tenant
from core.security.principal import Principal
from core.security.roles import ensure_may_grant

__all__ = ["decide", "describe"]

_DECISIONS = ("approve", "deny")


def _person(principal: Principal) -> uuid.UUID:
    if principal.user_id is None:
        raise Forbidden("Only a signed-in person can install an app.", code="not_a_person")
    return principal.user_id


async def _validated(
    session: AsyncSession, catalogue: ScopeCatalogue, policy: AppTokenPolicy, request: OAuthRequest
) -> tuple[HuikeAuthorizationServer, AuthorizationCodeGrant]:
    """The server and the code grant of a valid authorization request.

    Raises:
        OAuth2Error: an RFC 6749 error; with ``redirect_uri`` set when it may go back to the app.
    """
    context = OAuthContext(catalogue, policy)
    client_id = request.payload.client_id
    context.clients = await load_clients(session, [client_id])
    if client_id and client_id not in context.clients:
        await _refuse_suspended(session, client_id)
    server = HuikeAuthorizationServer(context)
    grant = server.get_consent_grant(request)
    return server, grant


async def _refuse_suspended(session: AsyncSession, client_id: str) -> None:
    """Tell the admin why a suspended app cannot be installed (any other unknown client is
    left to the grant's own ``invalid_client``)."""
    reason = await session.scalar(
        select(App.status_reason).where(App.client_id == client_id, App.status == AppStatus.SUSPENDED)
    )
    if reason is not None:
        raise InvalidClientError(description=f"This app was suspended by the platform: {reason}")


async def _installation(session: AsyncSession, app: App) -> AppInstallation | None:
    found: AppInstallation | None = await session.scalar(
        select(AppInstallation).where(AppInstallation.app_id == app.id).with_for_update()
    )
    return found


def _developer_sees(developer: Tenant, tenant: Tenant) -> Notice:
    """The admin is told what the developer's business will see of theirs: the list of
    installations (:func:`core.apps.service.list_installers`) and the log of the deliveries
    sent to the app (:mod:`core.apps.developer_deliveries`)."""
    return Notice(
        text_en=f"{developer.name}, the developer, will see your business's name ({tenant.name}) and id, "
        "when the app was installed, the permissions you grant, and the log of the events sent to the app.",
        text_zh=f"开发者{developer.name}将看到贵企业的名称（{tenant.name}）和编号、安装时间、"
        "您授予的权限，以及发送给该应用的事件记录。",
    )


async def describe(
    session: AsyncSession,
    catalogue: ScopeCatalogue,
    policy: AppTokenPolicy,
    principal: Principal,
    request: OAuthRequest,
) -> ConsentView:
    """What the consent screen shows for a valid authorization request."""
    _person(principal)
    _, grant = await _validated(session, catalogue, policy, request)
    app: App = grant.request.client.app
    developer = await session.get_one(Tenant, app.developer_tenant_id)
    tenant = await session.get_one(Tenant, principal.tenant_id)
    installation = await session.scalar(select(AppInstallation).where(AppInstallation.app_id == app.id))
    installed = installation is not None and installation.uninstalled_at is None
    return ConsentView(
        client_id=app.client_id,
        app_name=app.name,
        description=app.description,
        homepage_url=app.homepage_url,
        developer=DeveloperView(tenant_id=developer.id, name=developer.name),
        tenant=TenantRef(id=tenant.id, name=tenant.name),
        requested_scopes=catalogue.describe(split_scopes(grant.request.scope)),
        redirect_uri=grant.redirect_uri,
        state=request.payload.state,
        installed=installed,
        granted_scopes=sorted(installation.granted_scopes) if installation is not None and installed else [],
        developer_sees=_developer_sees(developer, tenant),
    )


def _granted(requested: list[str], chosen: list[str] | None) -> list[str]:
    if chosen is None:
        return requested
    for index, name in enumerate(chosen):
        if name not in requested:
            raise Invalid(
                f"The app did not ask for {name!r}; grant some of: {', '.join(requested)}.",
                field=f"scopes[{index}]",
                code="scope_not_requested",
            )
    if not chosen:
        raise Invalid("Grant at least one scope, or deny.", field="scopes", code="required")
    return sorted(set(chosen))


async def decide(
    session: AsyncSession,
    catalogue: ScopeCatalogue,
    policy: AppTokenPolicy,
    principal: Principal,
    request: OAuthRequest,
    decision: ConsentDecision,
) -> str:
    """Approve or deny; returns where to send the browser (the app's redirect URI with the
    code and state, or with ``error=access_denied``).

    Raises:
        OAuth2Error: the authorization request itself is invalid.
        Invalid: the decision names a scope the app did not ask for.
        Forbidden: the admin would grant a permission they do not hold themselves.
    """
    user_id = _person(principal)
    choice = one_of(decision.decision, _DECISIONS, "decision")
    server, grant = await _validated(session, catalogue, policy, request)
    app: App = grant.request.client.app
    if choice == "deny":
        denied = server.create_authorization_response(request, grant_user=None, grant=grant)
        await audit.record(session, "app.consent_denied", entity_type="apps", entity_id=app.id)
        return _location(denied)
    granted = _granted(split_scopes(grant.request.scope), decision.scopes)
    ensure_may_grant(principal, catalogue.grants(granted), "scopes")
    installation = await _install(session, app, granted, user_id)
    context: OAuthContext = server.context
    context.consent = Consent(principal.tenant_id, user_id, installation.id, granted)
    approved = server.create_authorization_response(request, grant_user=user_id, grant=grant)
    location, code = _location(approved), context.new_code
    if code is None:
        raise RuntimeError("authlib redirected a validated approval without issuing a code")
    session.add(
        AppAuthorizationCode(
            id=code.id,
            installation_id=installation.id,
            app_id=app.id,
            code_hash=code.code_hash,
            redirect_uri=code.redirect_uri,
            scopes=code.scopes,
            code_challenge=code.code_challenge,
            code_challenge_method=code.code_challenge_method,
            user_id=user_id,
            expires_at=code.expires_at,
        )
    )
    await session.flush()
    await audit.record(
        session,
        "app.authorized",
        entity_type="app_installations",
        entity_id=installation.id,
        details={"app_id": str(app.id), "scopes": granted, "redirect_uri": code.redirect_uri},
    )
    return location


def _location(answer: tuple[int, object, list[tuple[str, str]]]) -> str:
    """The redirect authlib answered (the request was validated just before, so it is one)."""
    status, _, headers = answer
    location = dict(headers).get("Location")
    if status != 302 or location is None:
        raise RuntimeError(f"authlib answered {status} to a validated authorization request")
    return location


async def _install(
    session: AsyncSession, app: App, granted: list[str], user_id: uuid.UUID
) -> AppInstallation:
    """Install the app, or update what an installation grants (reinstall included)."""
    installation = await _installation(session, app)
    if installation is None:
        installation = AppInstallation(app_id=app.id, granted_scopes=granted, installed_by=user_id)
        session.add(installation)
    else:
        if installation.uninstalled_at is not None:
            installation.uninstalled_at = None
            installation.installed_at = utcnow()
            installation.installed_by = user_id
        if installation.granted_scopes != granted:
            installation.granted_scopes = granted
    await session.flush()
    await mark_installed(session, app.id, installation.tenant_id, installation.installed_at, granted)
    await record_event(session, AppInstalled(app_id=app.id, installation_id=installation.id, scopes=granted))
    return installation
