"""Domain events offered to plugins after commit, each plugin in a job of its own.

Every plugin that implements ``on_event`` gets one handler per event type, named
``plugin.<plugin>.<event>``; the relay sends it an event only if the event's tenant
subscribes (``plugin_subscriptions``), so a tenant that enabled nothing costs nothing. A
handler retries on its own, so one plugin's failure neither blocks nor repeats another's
effect; its dead letters name the plugin. A plugin whose events keep dying is paused for the
tenant, and the tenant's admins get an email saying why.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.events.schemas import DomainEvent
from core.jobs.context import JobContext
from core.jobs.registry import Handler
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.models import Tenant
from core.kernel.settings import Settings
from core.kernel.tenancy import current_tenant_id
from core.mail import render_message
from core.mail.jobs import send_after_commit
from core.security.models import Membership, MembershipRole, Role, User
from plugins.dispatch import TenantDispatch, call, sync_subscription
from plugins.manager import PluginHost
from plugins.models import PluginSubscription, TenantPlugin
from plugins.permissions import MANAGE

__all__ = ["audience_filter", "handler_name", "plugin_handlers"]


def handler_name(plugin: str, event_name: str) -> str:
    return f"plugin.{plugin}.{event_name}"


def plugin_handlers(
    host: PluginHost, settings: Settings, events: Iterable[type[DomainEvent]]
) -> list[Handler[Any]]:
    event_types = list(events)
    handlers: list[Handler[Any]] = []
    for plugin in host.names:
        if not host.implements(plugin, "on_event"):
            continue
        for event_type in event_types:
            handlers.append(
                Handler(
                    name=handler_name(plugin, event_type.name),
                    event_type=event_type,
                    fn=_deliver_to(host, plugin),
                    audience=plugin,
                    on_dead_letter=_count_failure(host, settings, plugin),
                )
            )
    return handlers


async def audience_filter(session: AsyncSession, tenant_ids: set[uuid.UUID]) -> set[tuple[uuid.UUID, str]]:
    rows = await session.execute(
        select(PluginSubscription.tenant_ref, PluginSubscription.plugin).where(
            PluginSubscription.tenant_ref.in_(tenant_ids)
        )
    )
    return {(tenant, plugin) for tenant, plugin in rows}


def _deliver_to(host: PluginHost, plugin: str) -> Any:
    async def deliver(ctx: JobContext, event: DomainEvent) -> None:
        dispatch = await TenantDispatch.open(host, ctx.session, event_id=ctx.message_id)
        if plugin not in dispatch.enabled:  # disabled or paused since the event was relayed
            return
        for impl in dispatch.implementations("on_event", only=plugin):
            await call(host, impl, "on_event", dispatch.context(plugin), {"event": event})
        if dispatch.enabled[plugin].consecutive_failures:
            await ctx.session.execute(
                update(TenantPlugin)
                .where(TenantPlugin.name == plugin, TenantPlugin.consecutive_failures > 0)
                .values(consecutive_failures=0)
                .execution_options(synchronize_session=False)
            )

    return deliver


def _count_failure(host: PluginHost, settings: Settings, plugin: str) -> Any:
    async def count(db: Database, tenant_id: uuid.UUID, error: str) -> None:
        async with db.transaction() as session:
            row = await session.scalar(
                select(TenantPlugin).where(TenantPlugin.name == plugin).with_for_update()
            )
            if row is None or row.paused_at is not None or not row.enabled:
                return
            row.consecutive_failures += 1
            if row.consecutive_failures < settings.plugin_pause_after:
                return
            row.paused_at = utcnow()
            row.pause_reason = (
                f"{row.consecutive_failures} events in a row failed after every retry. "
                f"Last error: {error[:500]}"
            )
            await session.flush()
            await sync_subscription(session, row)
            await _tell_admins(session, settings, host, row)

    return count


async def _tell_admins(
    session: AsyncSession, settings: Settings, host: PluginHost, row: TenantPlugin
) -> None:
    tenant = await session.get_one(Tenant, current_tenant_id())
    admins = await session.execute(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .join(MembershipRole, MembershipRole.membership_id == Membership.id)
        .join(Role, Role.id == MembershipRole.role_id)
        .where(Membership.is_active.is_(True), User.is_active.is_(True))
        .add_columns(Role.grants)
    )
    told: set[uuid.UUID] = set()
    for user, grants in admins:
        if MANAGE not in (grants or {}) or user.id in told:
            continue
        told.add(user.id)
        message = render_message(
            "plugin_paused",
            user.locale,
            to=user.email,
            person=user.full_name,
            tenant_name=tenant.name,
            plugin=row.name,
            plugin_title=_title(host, row.name, user.locale),
            reason=row.pause_reason,
            public_url=settings.public_url,
        )
        await send_after_commit(session, settings, message)


def _title(host: PluginHost, plugin: str, locale: str | None) -> str:
    info = host.info(plugin)
    if info is None:
        return plugin
    if info.title_zh and (locale or "").startswith("zh"):
        return info.title_zh
    return info.title
