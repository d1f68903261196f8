"""Calling a tenant's enabled plugins: checks inside a transaction, providers, and the
tracing of every call.

Which plugins a tenant enabled is read once per transaction (and kept in the session's
``info``); the implementations to call for that set come from the host's cache.
"""

from __future__ import annotations

import inspect
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pluggy import HookImpl
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.context import current_audit_context
from core.kernel.checks import CHECKER, Vetoed
from core.kernel.tenancy import current_tenant_id
from core.kernel.upsert import insert_for
from plugins import config as plugin_config
from plugins.manager import PluginHost
from plugins.models import PluginSubscription, TenantPlugin
from plugins.sdk.context import Actor, HookContext

__all__ = [
    "EnabledPlugin",
    "PluginChecker",
    "TenantDispatch",
    "call",
    "enabled_plugins",
    "forget_enabled",
    "sync_subscription",
]

log = logging.getLogger("huike.plugins")
_ENABLED = "plugins.enabled"


@dataclass(frozen=True, slots=True)
class EnabledPlugin:
    name: str
    config: Any
    consecutive_failures: int


async def enabled_plugins(session: AsyncSession, host: PluginHost) -> Mapping[str, EnabledPlugin]:
    """The plugins the tenant in context enabled and that are not paused, with their config.
    Read once per transaction; plugins enabled but no longer installed are left out."""
    tenant_id = current_tenant_id()
    cached = session.info.get(_ENABLED)
    if cached is not None and cached[0] == tenant_id:
        found: Mapping[str, EnabledPlugin] = cached[1]
        return found
    rows = await session.scalars(
        select(TenantPlugin).where(TenantPlugin.enabled.is_(True), TenantPlugin.paused_at.is_(None))
    )
    enabled = {}
    for row in rows:
        info = host.info(row.name)
        if info is not None:
            enabled[row.name] = EnabledPlugin(
                row.name, plugin_config.decode(info, row), row.consecutive_failures
            )
    session.info[_ENABLED] = (tenant_id, enabled)
    return enabled


def forget_enabled(session: AsyncSession) -> None:
    """After enabling, disabling, pausing or configuring in this transaction."""
    session.info.pop(_ENABLED, None)


async def sync_subscription(session: AsyncSession, row: TenantPlugin) -> None:
    """Keep the relay's view (``plugin_subscriptions``) in step with ``row``."""
    forget_enabled(session)
    receives = row.enabled and row.paused_at is None
    if receives:
        await session.execute(
            insert_for(session, PluginSubscription)
            .values(tenant_ref=row.tenant_id, plugin=row.name)
            .on_conflict_do_nothing(index_elements=["tenant_ref", "plugin"])
        )
    else:
        await session.execute(
            delete(PluginSubscription).where(
                PluginSubscription.tenant_ref == row.tenant_id, PluginSubscription.plugin == row.name
            )
        )


def _actor() -> Actor:
    context = current_audit_context()
    return Actor(type=str(context.actor_type), id=context.actor_id)


async def call(
    host: PluginHost, impl: HookImpl, hook: str, ctx: HookContext, kwargs: Mapping[str, Any]
) -> Any:
    """Call one implementation with the arguments it asks for, await it if it is async, and
    trace it when ``HUIKE_PLUGIN_TRACE`` is on."""
    arguments = {"ctx": ctx, **kwargs}
    started = time.perf_counter()
    outcome = "ok"
    try:
        result = impl.function(*[arguments[name] for name in impl.argnames])
        if inspect.isawaitable(result):
            result = await result
        return result
    except BaseException as exc:
        outcome = f"raised {type(exc).__name__}"
        raise
    finally:
        if host.trace:
            log.info(
                "plugin hook call",
                extra={
                    "hook": hook,
                    "plugin": impl.plugin_name,
                    "tenant_id": str(ctx.tenant_id),
                    "duration_us": round((time.perf_counter() - started) * 1e6, 1),
                    "outcome": outcome,
                },
            )


@dataclass(frozen=True, slots=True)
class TenantDispatch:
    """The tenant's enabled plugins in one transaction, ready to be called."""

    host: PluginHost
    session: AsyncSession
    enabled: Mapping[str, EnabledPlugin]
    event_id: uuid.UUID | None = None

    @classmethod
    async def open(
        cls, host: PluginHost, session: AsyncSession, event_id: uuid.UUID | None = None
    ) -> TenantDispatch:
        return cls(host, session, await enabled_plugins(session, host), event_id)

    def context(self, plugin: str) -> HookContext:
        return HookContext(
            plugin=plugin,
            tenant_id=current_tenant_id(),
            actor=_actor(),
            session=self.session,
            config=self.enabled[plugin].config,
            event_id=self.event_id,
            settings=self.host.settings,
        )

    def implementations(self, hook: str, only: str | None = None) -> list[HookImpl]:
        names = frozenset([only] if only else self.enabled) & frozenset(self.enabled)
        return list(self.host.implementations(hook, names))

    async def first_result(self, hook: str, **kwargs: Any) -> Any:
        """A provider hook: the first enabled plugin's answer that is not ``None``."""
        for impl in self.implementations(hook):
            result = await call(self.host, impl, hook, self.context(impl.plugin_name), kwargs)
            if result is not None:
                return result
        return None


class PluginChecker:
    """The core's :class:`core.kernel.checks.Checker`: runs a check hook on the tenant's
    enabled plugins. A message refuses the change; so does a plugin that fails (a check
    that cannot run must not let the change through)."""

    def __init__(self, host: PluginHost) -> None:
        self.host = host

    def install(self, session_info: dict[str, Any]) -> None:
        session_info[CHECKER] = self

    async def __call__(self, session: AsyncSession, checkpoint: str, **subject: object) -> None:
        # No installed plugin checks this: no query for the tenant's enabled plugins.
        if not self.host.has_implementations(checkpoint):
            return
        dispatch = await TenantDispatch.open(self.host, session)
        for impl in dispatch.implementations(checkpoint):
            plugin = impl.plugin_name
            try:
                verdict = await call(self.host, impl, checkpoint, dispatch.context(plugin), subject)
            except Exception as exc:
                log.warning(
                    "plugin check failed", exc_info=True, extra={"plugin": plugin, "hook": checkpoint}
                )
                raise Vetoed(
                    plugin, f"the check could not run ({type(exc).__name__}); try again later"
                ) from exc
            if verdict:
                raise Vetoed(plugin, str(verdict))
