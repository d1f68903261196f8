"""The token, revocation and introspection endpoints: load what the request names, let
authlib decide (:mod:`core.apps.oauth_server`), then write what it decided.

Each code or token names its tenant, so its rows are read and written inside that tenant
(ORM filter and RLS apply); apps are a platform table, read by ``client_id`` with no tenant.
The database settles races: a code or refresh token is spent by a conditional UPDATE in the
transaction that inserts the new tokens, under a lock on the installation that an uninstall
takes too. A code or refresh token presented a second time revokes its family.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.apps.models import App, AppAuthorizationCode, AppInstallation, AppStatus, AppToken, TokenKind
from core.apps.oauth_context import Issuance, OAuthContext, Revocation
from core.apps.oauth_models import ClientRecord, CodeRecord, OAuthRequest, TokenRecord
from core.apps.oauth_server import HuikeAuthorizationServer
from core.apps.scopes import ScopeCatalogue
from core.apps.tokens import ACCESS_PREFIX, CODE_PREFIX, REFRESH_PREFIX, AppTokenPolicy, parse, revoke_family
from core.audit import service as audit
from core.audit.context import ActorType, current_audit_context
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.tenancy import tenant_context

__all__ = ["Answer", "AppOAuth", "load_clients"]

#: ``(status, body, headers)`` as authlib answers.
Answer = tuple[int, Any, list[tuple[str, str]]]


class _Refused(Exception):
    """The issuance lost a race (the code or refresh token was spent meanwhile)."""


async def load_clients(session: AsyncSession, client_ids: Iterable[str | None]) -> dict[str, ClientRecord]:
    wanted = sorted({c for c in client_ids if c})
    if not wanted:
        return {}
    # A suspended or deleted app is no client: every OAuth endpoint answers as for an unknown one.
    apps = await session.scalars(select(App).where(App.client_id.in_(wanted), App.status == AppStatus.ACTIVE))
    return {app.client_id: ClientRecord(app) for app in apps}


def _client_ids(request: OAuthRequest) -> list[str | None]:
    basic_id, _ = extract_basic_authorization(request.headers)
    return [basic_id, request.payload.data.get("client_id")]


class AppOAuth:
    """The OAuth endpoints' use cases, built once by the composition root."""

    def __init__(self, db: Database, catalogue: ScopeCatalogue, policy: AppTokenPolicy) -> None:
        self.db = db
        self.catalogue = catalogue
        self.policy = policy

    def context(self) -> OAuthContext:
        return OAuthContext(self.catalogue, self.policy)

    async def token(self, request: OAuthRequest) -> Answer:
        """``POST /oauth/token``: authorization code (with PKCE), refresh, client credentials."""
        context = await self._load(request)
        answer: Answer = HuikeAuthorizationServer(context).create_token_response(request)
        await self._revoke_reused(context)
        if answer[0] == 200 and context.issuance is not None and not await self._issue(context.issuance):
            error = InvalidGrantError("The code or refresh token was already used.")
            return error()  # type: ignore[no-any-return]
        return answer

    async def revoke(self, request: OAuthRequest) -> Answer:
        """``POST /oauth/revoke`` (RFC 7009)."""
        context = await self._load(request, subject=True)
        answer: Answer = HuikeAuthorizationServer(context).create_endpoint_response("revocation", request)
        for revocation in context.revocations:
            await self._revoke(revocation)
        return answer

    async def introspect(self, request: OAuthRequest) -> Answer:
        """``POST /oauth/introspect`` (RFC 7662): reads only."""
        context = await self._load(request, subject=True)
        answer: Answer = HuikeAuthorizationServer(context).create_endpoint_response("introspection", request)
        return answer

    async def _load(self, request: OAuthRequest, *, subject: bool = False) -> OAuthContext:
        context = self.context()
        form = request.form
        async with self.db.transaction() as session:
            context.clients = await load_clients(session, _client_ids(request))
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            context.code = await self._code(form.get("code"))
        elif grant_type == "refresh_token":
            context.refresh_token = await self._token(REFRESH_PREFIX, form.get("refresh_token"))
        elif grant_type == "client_credentials":
            context.installation = await self._installation(form.get("tenant"), context.clients.values())
        if subject:
            text = form.get("token")
            context.subject_token = await self._token(ACCESS_PREFIX, text) or await self._token(
                REFRESH_PREFIX, text
            )
        return context

    async def _code(self, text: str | None) -> CodeRecord | None:
        parsed = parse(CODE_PREFIX, text)
        if parsed is None:
            return None
        with tenant_context(parsed[0]):
            async with self.db.transaction() as session:
                row = (
                    await session.execute(
                        select(AppAuthorizationCode, AppInstallation)
                        .join(
                            AppInstallation,
                            (AppInstallation.id == AppAuthorizationCode.installation_id)
                            & (AppInstallation.tenant_id == AppAuthorizationCode.tenant_id),
                        )
                        .where(AppAuthorizationCode.id == parsed[1])
                    )
                ).first()
        return None if row is None else CodeRecord(row[0], row[1])

    async def _token(self, prefix: str, text: str | None) -> TokenRecord | None:
        parsed = parse(prefix, text)
        if parsed is None:
            return None
        kind = TokenKind.ACCESS if prefix == ACCESS_PREFIX else TokenKind.REFRESH
        with tenant_context(parsed[0]):
            async with self.db.transaction() as session:
                row = (
                    await session.execute(
                        select(AppToken, AppInstallation, App)
                        .join(
                            AppInstallation,
                            (AppInstallation.id == AppToken.installation_id)
                            & (AppInstallation.tenant_id == AppToken.tenant_id),
                        )
                        .join(App, App.id == AppToken.app_id)
                        .where(AppToken.id == parsed[1], AppToken.kind == kind)
                    )
                ).first()
        return None if row is None else TokenRecord(row[0], row[1], row[2])

    async def _installation(
        self, tenant: str | None, clients: Iterable[ClientRecord]
    ) -> AppInstallation | None:
        app_ids = [c.app.id for c in clients]
        try:
            tenant_id = uuid.UUID(tenant or "")
        except ValueError:
            return None
        if not app_ids:
            return None
        with tenant_context(tenant_id):
            async with self.db.transaction() as session:
                found: AppInstallation | None = await session.scalar(
                    select(AppInstallation).where(AppInstallation.app_id.in_(app_ids))
                )
        return found

    async def _issue(self, issuance: Issuance) -> bool:
        """Write the tokens and spend what they were issued for, or nothing at all."""
        reused: uuid.UUID | None = None
        now = utcnow()
        with tenant_context(issuance.tenant_id):
            try:
                async with self.db.transaction() as session:
                    active = await session.scalar(
                        select(AppInstallation.id)
                        .where(
                            AppInstallation.id == issuance.installation_id,
                            AppInstallation.uninstalled_at.is_(None),
                        )
                        .with_for_update()
                    )
                    if active is None:
                        raise _Refused
                    if issuance.spends_code is not None and not await _spend_code(
                        session, issuance.spends_code
                    ):
                        reused = issuance.spends_code
                        raise _Refused
                    if issuance.spends_refresh is not None and not await _spend_refresh(
                        session, issuance.spends_refresh
                    ):
                        reused = issuance.family_id
                        raise _Refused
                    session.add_all(
                        AppToken(
                            id=token.id,
                            installation_id=issuance.installation_id,
                            app_id=issuance.app_id,
                            kind=token.kind,
                            token_hash=token.token_hash,
                            family_id=issuance.family_id,
                            grant_type=issuance.grant_type,
                            scopes=issuance.scopes,
                            user_id=issuance.user_id,
                            expires_at=token.expires_at,
                            created_at=now,
                        )
                        for token in issuance.tokens
                    )
            except _Refused:
                if reused is not None:
                    async with self.db.transaction() as session:
                        await revoke_family(session, reused)
                return False
        return True

    async def _revoke_reused(self, context: OAuthContext) -> None:
        for tenant_id, family_id in context.reused_families:
            with tenant_context(tenant_id):
                async with self.db.transaction() as session:
                    await revoke_family(session, family_id)

    async def _revoke(self, revocation: Revocation) -> None:
        with tenant_context(revocation.tenant_id):
            async with self.db.transaction() as session:
                if revocation.family_id is not None:
                    await revoke_family(session, revocation.family_id)
                else:
                    await session.execute(
                        update(AppToken)
                        .where(AppToken.id == revocation.token_id, AppToken.revoked_at.is_(None))
                        .values(revoked_at=utcnow())
                        .execution_options(synchronize_session=False)
                    )
                await audit.record(
                    session,
                    "app.token_revoked",
                    entity_type="app_tokens",
                    entity_id=revocation.token_id,
                    details={"family": revocation.family_id is not None},
                    context=current_audit_context().with_actor(ActorType.APP, revocation.app_id),
                )


async def _spend_code(session: AsyncSession, code_id: uuid.UUID) -> bool:
    now = utcnow()
    spent = await session.execute(
        update(AppAuthorizationCode)
        .where(
            AppAuthorizationCode.id == code_id,
            AppAuthorizationCode.used_at.is_(None),
            AppAuthorizationCode.expires_at > now,
        )
        .values(used_at=now)
        .returning(AppAuthorizationCode.id)
        .execution_options(synchronize_session=False)
    )
    return spent.first() is not None


async def _spend_refresh(session: AsyncSession, token_id: uuid.UUID) -> bool:
    now = utcnow()
    spent = await session.execute(
        update(AppToken)
        .where(
            AppToken.id == token_id,
            AppToken.kind == TokenKind.REFRESH,
            AppToken.used_at.is_(None),
            AppToken.revoked_at.is_(None),
            AppToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(AppToken.id)
        .execution_options(synchronize_session=False)
    )
    return spent.first() is not None
