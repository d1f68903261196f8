"""The ``webhooks`` plugin: every domain event of the business, to the HTTPS endpoints its
admin configured, signed (``Huike-Signature``), retried with backoff, logged with each
response code, and replayable. The delivery machinery is ``core/webhooks`` (which apps'
webhooks share); this plugin gives the tenant its endpoints and feeds them its events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.security.rbac import Permission
from core.webhooks import service
from core.webhooks.schemas import TENANT
from plugins.sdk import HookContext, PluginInfo, hookimpl
from plugins.sdk.events import DomainEvent
from plugins.webhooks.routes import ROUTES


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(
        name="webhooks",
        title="Webhooks",
        title_zh="Webhook 推送",
        description="Send this business's events to your own HTTPS endpoints, signed and retried.",
        version="1",
        first_party=True,
    )


@hookimpl
def register_permissions() -> Iterable[Permission]:
    return [
        Permission(
            "webhooks.manage",
            "Add and change webhook endpoints, read their delivery log, replay deliveries.",
            {"admin": "all"},
        )
    ]


@hookimpl
def register_routes() -> Iterable[Any]:
    return ROUTES


@hookimpl
async def on_event(ctx: HookContext, event: DomainEvent) -> None:
    # One delivery per endpoint and event id: a redelivered event creates nothing more.
    if ctx.event_id is None:
        raise RuntimeError("on_event called without an event id")
    await service.enqueue_deliveries(ctx.session, event.name, ctx.event_id, event, owner=TENANT)
