"""App tokens: their text, their lifetimes, and resolving an access token to a principal.

Codes and tokens read ``<prefix>_<tenant hex>_<row hex>_<secret>`` (``hkac`` code, ``hkat``
access token, ``hkrt`` refresh token): the tenant lets the server enter it before any query,
the row id finds the row, and only the SHA-256 of the whole text is stored. An access token
acts with the permissions of its scopes, narrowed to what the installation still grants and
the app still asks for, at record scope ``all`` (an app acts for the business, so "own" and
"team", which are relative to a person's membership, would mean nothing).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.apps.models import App, AppInstallation, AppStatus, AppToken, TokenKind
from core.apps.scopes import ScopeCatalogue
from core.kernel.clock import utcnow
from core.kernel.errors import Unauthorized
from core.kernel.models import Tenant
from core.security.opaque import digest, new_secret, parse_tenant_token, same_digest, tenant_token
from core.security.principal import Principal

__all__ = [
    "ACCESS_PREFIX",
    "CODE_PREFIX",
    "REFRESH_PREFIX",
    "AppTokenPolicy",
    "effective_scopes",
    "is_app_token",
    "mint",
    "parse",
    "principal_for_app_token",
    "revoke_family",
]

CODE_PREFIX = "hkac"
ACCESS_PREFIX = "hkat"
REFRESH_PREFIX = "hkrt"
_INVALID = "The token is invalid or expired."  # the very message of a bad JWT or API key
_CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


@dataclass(frozen=True, slots=True)
class AppTokenPolicy:
    access_ttl: int
    refresh_ttl: int
    #: Codes live ten minutes at most (RFC 6749 §4.1.2).
    code_ttl: int = 600
    #: ``iss`` of introspection answers: the public URL of this deployment.
    issuer: str = "huike"


def mint(prefix: str, tenant_id: uuid.UUID, row_id: uuid.UUID) -> str:
    return tenant_token(prefix, tenant_id, row_id, new_secret())


def parse(prefix: str, text: str | None) -> tuple[uuid.UUID, uuid.UUID] | None:
    """``(tenant_id, row_id)`` of a code or token of kind ``prefix``, or None."""
    parsed = parse_tenant_token(prefix, text or "")
    return None if parsed is None else (parsed[0], parsed[1])


def is_app_token(token: str) -> bool:
    return token.startswith(ACCESS_PREFIX + "_")


def effective_scopes(token_scopes: list[str], installation: AppInstallation, app: App) -> list[str]:
    """What a token may still do: its scopes, within what the business grants today and what
    the app still asks for (a developer dropping a scope drops it everywhere at once)."""
    return sorted(set(token_scopes) & set(installation.granted_scopes) & set(app.scopes))


async def principal_for_app_token(session: AsyncSession, catalogue: ScopeCatalogue, token: str) -> Principal:
    """Resolve an access token inside a transaction in its tenant (already in context).

    Raises:
        Unauthorized: unknown, forged, expired or revoked token, or the app was uninstalled,
            suspended or deleted.
    """
    parsed = parse(ACCESS_PREFIX, token)
    if parsed is None:
        raise Unauthorized(_INVALID, code="invalid_token", headers=_CHALLENGE)
    row = (
        await session.execute(
            select(AppToken, AppInstallation, App, Tenant)
            .join(
                AppInstallation,
                (AppInstallation.id == AppToken.installation_id)
                & (AppInstallation.tenant_id == AppToken.tenant_id),
            )
            .join(App, App.id == AppToken.app_id)
            .join(Tenant, Tenant.id == AppToken.tenant_id)
            .where(AppToken.id == parsed[1], AppToken.kind == TokenKind.ACCESS)
        )
    ).first()
    if row is None or not same_digest(row[0].token_hash, digest(token)):
        raise Unauthorized(_INVALID, code="invalid_token", headers=_CHALLENGE)
    found, installation, app, tenant = row
    if found.revoked_at is not None or installation.uninstalled_at is not None:
        raise Unauthorized(
            "This app's access was revoked or the app was uninstalled.",
            code="invalid_token",
            headers=_CHALLENGE,
        )
    if app.status != AppStatus.ACTIVE:
        raise Unauthorized(
            "This app was suspended or deleted: none of its tokens works.",
            code="invalid_token",
            headers=_CHALLENGE,
        )
    if found.expires_at <= utcnow():
        raise Unauthorized(_INVALID, code="invalid_token", headers=_CHALLENGE)
    scopes = effective_scopes(found.scopes, installation, app)
    return Principal(
        kind="app",
        tenant_id=tenant.id,
        grants=catalogue.grants(scopes),
        app_id=app.id,
        installation_id=installation.id,
        tenant_status=tenant.status,
        tenant_status_reason=tenant.status_reason,
        extra={"scopes": tuple(scopes), "client_id": app.client_id},
    )


async def revoke_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    """Revoke every token descending from one consent (or one refresh chain)."""
    await session.execute(
        update(AppToken)
        .where(AppToken.family_id == family_id, AppToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
