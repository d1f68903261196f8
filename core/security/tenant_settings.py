"""The current tenant's own settings: its name, its time zone, and whether every member
needs 2FA.

``tenants`` is a platform-level table, so the tenant filter does not apply to it: these use
cases reach exactly one row, the one named by the caller's credential (``principal.tenant_id``).
"""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.concurrency import ensure_version
from core.kernel.errors import Conflict, Invalid, NotFound
from core.kernel.models import Tenant
from core.security.models import User
from core.security.principal import Principal

__all__ = [
    "MAX_NAME_LENGTH",
    "TenantSettingsUpdate",
    "TenantSettingsView",
    "clean_tenant_name",
    "clean_timezone",
    "get_tenant_settings",
    "update_tenant_settings",
]

MAX_NAME_LENGTH = 200


class TenantSettingsView(msgspec.Struct):
    id: uuid.UUID
    name: str
    slug: str
    status: str
    status_reason: str | None
    plan: str
    require_two_factor: bool
    #: IANA time zone (``Asia/Shanghai``): the times of reminders are shown in it.
    timezone: str
    created_at: datetime
    version: int


class TenantSettingsUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    require_two_factor: bool | msgspec.UnsetType = msgspec.UNSET
    timezone: str | msgspec.UnsetType = msgspec.UNSET


def clean_tenant_name(name: str, field: str = "name") -> str:
    """The business name as stored, or :class:`Invalid` naming ``field`` (signup's rule)."""
    name = name.strip()
    if not name:
        raise Invalid("Company name must not be empty.", field=field, code="required")
    if len(name) > MAX_NAME_LENGTH:
        raise Invalid(f"Company name is at most {MAX_NAME_LENGTH} characters.", field=field, code="too_long")
    return name


def clean_timezone(value: str, field: str = "timezone") -> str:
    """An IANA time zone name (``Asia/Shanghai``), or :class:`Invalid` naming ``field``."""
    value = value.strip()
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            "Give an IANA time zone name, such as Asia/Shanghai.", field=field, code="invalid_timezone"
        ) from None
    return value


def _view(tenant: Tenant) -> TenantSettingsView:
    return TenantSettingsView(
        id=tenant.id,
        name=tenant.name,
        slug=tenant.slug,
        status=tenant.status,
        status_reason=tenant.status_reason,
        plan=tenant.plan,
        require_two_factor=tenant.require_two_factor,
        timezone=tenant.timezone,
        created_at=tenant.created_at,
        version=tenant.version,
    )


async def _own_tenant(session: AsyncSession, principal: Principal, *, lock: bool = False) -> Tenant:
    tenant = await session.get(Tenant, principal.tenant_id, with_for_update=lock)
    if tenant is None:
        raise NotFound()
    return tenant


async def _ensure_own_two_factor(session: AsyncSession, principal: Principal) -> None:
    """Whoever turns the requirement on must already use 2FA, or they lock themselves out of
    the very setting they just changed."""
    if principal.user_id is None:
        return
    user = await session.get_one(User, principal.user_id)
    if not user.totp_enabled:
        raise Conflict(
            "Turn on two-factor authentication for yourself before requiring it for everyone.",
            field="require_two_factor",
            code="two_factor_setup_first",
        )


async def get_tenant_settings(session: AsyncSession, principal: Principal) -> TenantSettingsView:
    return _view(await _own_tenant(session, principal))


async def update_tenant_settings(
    session: AsyncSession,
    principal: Principal,
    change: TenantSettingsUpdate,
    *,
    expected_version: int | None = None,
) -> TenantSettingsView:
    """Rename the business, set its time zone or switch the 2FA requirement.

    Requiring 2FA takes effect at the next request of each member: one without it can then
    only reach ``/api/v1/me`` and the 2FA setup routes until they turn it on.
    """
    tenant = await _own_tenant(session, principal, lock=True)
    ensure_version(tenant, expected_version)
    if not isinstance(change.name, msgspec.UnsetType):
        tenant.name = clean_tenant_name(change.name)
    if not isinstance(change.timezone, msgspec.UnsetType):
        tenant.timezone = clean_timezone(change.timezone)
    if not isinstance(change.require_two_factor, msgspec.UnsetType):
        if change.require_two_factor and not tenant.require_two_factor:
            await _ensure_own_two_factor(session, principal)
        tenant.require_two_factor = change.require_two_factor
    await session.flush()
    return _view(tenant)
