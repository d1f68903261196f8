"""API keys: credentials a tenant hands to its integrations.

A key reads ``hk_<tenant id hex>_<key id hex>_<secret>``. The tenant and key ids let the
server put the tenant in context before it runs any query; the secret proves possession.
The whole key is shown once, when it is created; only its SHA-256 digest is stored, next to
a short display prefix that does not help anyone guess it.

A key holds its own grants (``{"roles.read": "all"}``), chosen by the person who creates it
from the grants they hold themselves, and acts with exactly those grants until revoked.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.clock import utcnow
from core.kernel.concurrency import ensure_version
from core.kernel.errors import Forbidden, Invalid, NotFound, Unauthorized
from core.kernel.ids import new_id
from core.kernel.models import Tenant
from core.kernel.pagination import Page, PageRequest, paginate
from core.security.models import ApiKey
from core.security.opaque import digest, new_secret, same_digest
from core.security.principal import Principal
from core.security.rbac import PermissionRegistry
from core.security.roles import ensure_may_grant

__all__ = [
    "KEY_PREFIX",
    "LAST_USED_RESOLUTION",
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyView",
    "api_key_view",
    "create_api_key",
    "get_api_key",
    "is_api_key",
    "list_api_keys",
    "parse_key",
    "principal_for_api_key",
    "revoke_api_key",
]

KEY_PREFIX = "hk_"
#: ``last_used_at`` is written at most once per this interval, not on every request.
LAST_USED_RESOLUTION = timedelta(seconds=60)
_DISPLAY_SECRET_CHARS = 6
_INVALID = "The token is invalid or expired."  # the very message of a bad JWT


class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    #: Permission name -> record scope (own, team, all); a subset of the creator's own.
    grants: dict[str, str]


class ApiKeyView(msgspec.Struct):
    id: uuid.UUID
    name: str
    #: Enough to recognise the key in a list; not enough to help guess it.
    prefix: str
    grants: dict[str, str]
    created_by: uuid.UUID
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    version: int


class ApiKeyCreated(ApiKeyView):
    #: The key itself. Shown in this answer only; it cannot be read again.
    key: str


def api_key_view(key: ApiKey) -> ApiKeyView:
    return ApiKeyView(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        grants=dict(sorted(key.grants.items())),
        created_by=key.created_by,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
        version=key.version,
    )


def is_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def parse_key(token: str) -> tuple[uuid.UUID, uuid.UUID]:
    """Return ``(tenant_id, key_id)`` from the key's text, before anything is queried.

    Raises:
        Unauthorized: the text is not shaped like a key (the same answer as a bad token).
    """
    parts = token.split("_", 3)
    if len(parts) != 4 or parts[0] + "_" != KEY_PREFIX or not parts[3]:
        raise Unauthorized(_INVALID, code="invalid_token")
    try:
        return _hex_id(parts[1]), _hex_id(parts[2])
    except ValueError:
        raise Unauthorized(_INVALID, code="invalid_token") from None


def _hex_id(text: str) -> uuid.UUID:
    if len(text) != 32:
        raise ValueError("not a 32-digit hex id")
    return uuid.UUID(hex=text)


async def principal_for_api_key(session: AsyncSession, token: str) -> Principal:
    """Resolve a key inside a transaction in the key's tenant (already in context).

    Raises:
        Unauthorized: unknown key, wrong secret, or revoked key.
    """
    _, key_id = parse_key(token)
    row = (
        await session.execute(
            select(ApiKey, Tenant).join(Tenant, Tenant.id == ApiKey.tenant_id).where(ApiKey.id == key_id)
        )
    ).first()
    if row is None or not same_digest(row[0].secret_hash, digest(token)):
        raise Unauthorized(_INVALID, code="invalid_token")
    key, tenant = row
    if key.revoked_at is not None:
        raise Unauthorized("This API key was revoked; ask an admin for a new one.", code="api_key_revoked")
    await _touch(session, key.id)
    return Principal(
        kind="api_key",
        tenant_id=tenant.id,
        grants=dict(key.grants),
        api_key_id=key.id,
        tenant_status=tenant.status,
        tenant_status_reason=tenant.status_reason,
    )


async def _touch(session: AsyncSession, key_id: uuid.UUID) -> None:
    """Record the use, writing only when the stored time is older than the resolution."""
    now = utcnow()
    await session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_RESOLUTION),
        )
        .values(last_used_at=now)
        # The use itself is the audit entry (``api_key.used``, written by the API guard).
        .execution_options(synchronize_session=False, audited_by_caller=True)
    )


def _clean_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 120:
        raise Invalid("Key name must be 1 to 120 characters.", field="name", code="invalid_length")
    return name


async def create_api_key(
    session: AsyncSession, registry: PermissionRegistry, principal: Principal, command: ApiKeyCreate
) -> ApiKeyCreated:
    """Create a key with ``command.grants``, which the creating person must hold themselves."""
    if principal.user_id is None:
        # A key minting keys would outlive its own revocation.
        raise Forbidden("Only a person can create API keys.", code="not_a_person")
    name = _clean_name(command.name)
    grants = registry.validate_grants(command.grants)
    if not grants:
        raise Invalid("Give the key at least one permission.", field="grants", code="required")
    ensure_may_grant(principal, grants, "grants")
    key_id, secret = new_id(), new_secret()
    text = f"{KEY_PREFIX}{principal.tenant_id.hex}_{key_id.hex}_{secret}"
    key = ApiKey(
        id=key_id,
        name=name,
        prefix=f"{KEY_PREFIX}…{secret[:_DISPLAY_SECRET_CHARS]}",
        secret_hash=digest(text),
        grants=grants,
        created_by=principal.user_id,
    )
    session.add(key)
    await session.flush()
    return ApiKeyCreated(**msgspec.structs.asdict(api_key_view(key)), key=text)


async def list_api_keys(session: AsyncSession, page: PageRequest) -> Page[ApiKeyView]:
    return await paginate(
        session,
        select(ApiKey),
        ApiKey.id,
        page,
        api_key_view,
        sortable={"name": ApiKey.name, "created_at": ApiKey.created_at},
    )


async def _api_key(session: AsyncSession, key_id: uuid.UUID) -> ApiKey:
    key = await session.scalar(select(ApiKey).where(ApiKey.id == key_id))
    if key is None:
        raise NotFound()
    return key


async def get_api_key(session: AsyncSession, key_id: uuid.UUID) -> ApiKeyView:
    return api_key_view(await _api_key(session, key_id))


async def revoke_api_key(
    session: AsyncSession, key_id: uuid.UUID, *, expected_version: int | None = None
) -> None:
    """Revoke a key; it stops working at once. Revoking it again changes nothing."""
    key = await _api_key(session, key_id)
    ensure_version(key, expected_version)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    await session.flush()
