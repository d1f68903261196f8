"""Per-tenant plugin enablement: a tenant admin lists the installed plugins, enables one
with a configuration validated against its schema, changes that configuration, disables it,
and resumes it after Huike paused it.

Every change is one transaction: the ``tenant_plugins`` row (audited like every tenant
record; secrets encrypted), and the relay's subscription in step with it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.concurrency import ensure_version
from core.kernel.errors import Forbidden, NotFound
from core.kernel.tenancy import current_tenant_id
from plugins import config as plugin_config
from plugins.dispatch import sync_subscription
from plugins.manager import PluginHost
from plugins.models import TenantPlugin
from plugins.sdk.info import PluginInfo

__all__ = [
    "AllowEveryPlugin",
    "PluginConfigUpdate",
    "PluginEnable",
    "PluginPolicy",
    "PluginView",
    "configure",
    "disable",
    "enable",
    "get_plugin",
    "list_plugins",
    "resume",
]


class PluginPolicy(Protocol):
    """Whether the tenant's plan lets it enable ``plugin``; billing provides the real one."""

    async def refusal(self, session: AsyncSession, tenant_id: uuid.UUID, plugin: str) -> str | None:
        """``None`` when allowed, else the reason, naming the plan that lifts the limit."""


class AllowEveryPlugin:
    async def refusal(self, session: AsyncSession, tenant_id: uuid.UUID, plugin: str) -> str | None:
        return None


class PluginView(msgspec.Struct, kw_only=True):
    name: str
    title: str
    title_zh: str | None
    description: str
    plugin_version: str
    first_party: bool
    enabled: bool
    paused: bool
    paused_at: datetime | None = None
    pause_reason: str | None = None
    #: The tenant's configuration; every secret that is set reads ``********``.
    config: dict[str, Any] = {}
    #: JSON Schema of the configuration (secret fields carry ``"secret": true``).
    config_schema: dict[str, Any] = {}
    #: Why the tenant's plan does not allow it, or null.
    plan_refusal: str | None = None
    #: The ETag of the tenant's settings of this plugin (0 before it was first enabled).
    version: int = 0


class PluginEnable(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    config: dict[str, Any] = {}


class PluginConfigUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    #: Fields to change; a secret sent as ``********`` or left out keeps its value.
    config: dict[str, Any]


def _view(info: PluginInfo, row: TenantPlugin | None, refusal: str | None) -> PluginView:
    return PluginView(
        name=info.name,
        title=info.title,
        title_zh=info.title_zh,
        description=info.description,
        plugin_version=info.version,
        first_party=info.first_party,
        enabled=bool(row and row.enabled),
        paused=bool(row and row.paused_at),
        paused_at=row.paused_at if row else None,
        pause_reason=row.pause_reason if row else None,
        config=plugin_config.public(info, row),
        config_schema=info.config_schema(),
        plan_refusal=refusal,
        version=row.version if row else 0,
    )


def _info(host: PluginHost, name: str) -> PluginInfo:
    info = host.info(name)
    if info is None:
        raise NotFound("No plugin of that name is installed here.", code="plugin_not_found")
    return info


async def _row(session: AsyncSession, name: str, *, lock: bool = False) -> TenantPlugin | None:
    query = select(TenantPlugin).where(TenantPlugin.name == name)
    if lock:
        query = query.with_for_update()
    row: TenantPlugin | None = await session.scalar(query)
    return row


async def _enabled_row(session: AsyncSession, name: str, expected_version: int | None) -> TenantPlugin:
    """The tenant's row of an enabled plugin, locked, at the version the client saw."""
    row = await _row(session, name, lock=True)
    if row is None or not row.enabled:
        raise NotFound("The plugin is not enabled for this account.", code="plugin_not_enabled")
    ensure_version(row, expected_version)
    return row


async def list_plugins(session: AsyncSession, host: PluginHost, policy: PluginPolicy) -> list[PluginView]:
    rows = {row.name: row for row in await session.scalars(select(TenantPlugin))}
    tenant_id = current_tenant_id()
    return [
        _view(info, rows.get(name), await policy.refusal(session, tenant_id, name))
        for name, info in sorted(host.infos.items())
    ]


async def get_plugin(session: AsyncSession, host: PluginHost, policy: PluginPolicy, name: str) -> PluginView:
    info = _info(host, name)
    return _view(info, await _row(session, name), await policy.refusal(session, current_tenant_id(), name))


async def enable(
    session: AsyncSession,
    host: PluginHost,
    policy: PluginPolicy,
    name: str,
    data: PluginEnable,
    *,
    expected_version: int | None = None,
) -> PluginView:
    """Enable ``name`` for the tenant with ``data.config`` merged over what was stored
    before (a plugin enabled again keeps its configuration). Clears a pause."""
    info = _info(host, name)
    refusal = await policy.refusal(session, current_tenant_id(), name)
    if refusal:
        raise Forbidden(refusal, code="plan_required")
    row = await _row(session, name, lock=True)
    if row is not None:
        ensure_version(row, expected_version)
    config = plugin_config.validate(info, plugin_config.merge(info, row, data.config))
    if row is None:
        row = TenantPlugin(name=name, config={}, enabled=True, consecutive_failures=0)
        session.add(row)
    row.enabled, row.paused_at, row.pause_reason, row.consecutive_failures = True, None, None, 0
    plugin_config.store(info, row, config)
    await session.flush()
    await sync_subscription(session, row)
    return _view(info, row, None)


async def configure(
    session: AsyncSession,
    host: PluginHost,
    name: str,
    data: PluginConfigUpdate,
    *,
    expected_version: int | None = None,
) -> PluginView:
    info = _info(host, name)
    row = await _enabled_row(session, name, expected_version)
    plugin_config.store(info, row, plugin_config.validate(info, plugin_config.merge(info, row, data.config)))
    await session.flush()
    await sync_subscription(session, row)
    return _view(info, row, None)


async def disable(
    session: AsyncSession, host: PluginHost, name: str, *, expected_version: int | None = None
) -> PluginView:
    """Stop calling the plugin for this tenant. Its configuration is kept for a later
    enable; its own data stays where the plugin keeps it."""
    info = _info(host, name)
    row = await _enabled_row(session, name, expected_version)
    row.enabled = False
    await session.flush()
    await sync_subscription(session, row)
    return _view(info, row, None)


async def resume(
    session: AsyncSession, host: PluginHost, name: str, *, expected_version: int | None = None
) -> PluginView:
    info = _info(host, name)
    row = await _enabled_row(session, name, expected_version)
    row.paused_at, row.pause_reason, row.consecutive_failures = None, None, 0
    await session.flush()
    await sync_subscription(session, row)
    return _view(info, row, None)
