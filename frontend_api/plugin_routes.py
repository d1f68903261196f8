"""Mounting plugins' routes: each plugin's under ``/api/v1/plugins/<name>/``, answering only
for the tenants that enabled it (404 for every other, exactly like an unknown route)."""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.types import Guard
from sqlalchemy import select

from core.kernel.errors import NotFound
from core.kernel.tenancy import peek_tenant_id
from frontend_api.services import Services
from plugins.manager import PluginHost
from plugins.models import TenantPlugin

__all__ = ["PLUGIN_ROUTES_PREFIX", "plugin_routers"]

PLUGIN_ROUTES_PREFIX = "/api/v1/plugins"


def plugin_routers(host: PluginHost) -> list[Router]:
    return [
        Router(
            path=f"{PLUGIN_ROUTES_PREFIX}/{name}",
            route_handlers=handlers,
            guards=[_enabled_for_tenant(name)],
            tags=[f"plugin: {name}"],
            opt={"plugin": name},
        )
        for name, handlers in host.routes().items()
        if handlers
    ]


def _enabled_for_tenant(plugin: str) -> Guard:
    """Runs after the app's ``authorize`` guard, which put the caller's tenant in context."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        if peek_tenant_id() is None:  # a public route of the plugin: it finds its tenant itself
            return
        services: Services = connection.app.state.services
        async with services.db.transaction() as session:
            # Paused plugins keep their routes: the admin may need them to fix the cause.
            enabled = await session.scalar(
                select(TenantPlugin.id).where(TenantPlugin.name == plugin, TenantPlugin.enabled.is_(True))
            )
        if enabled is None:
            raise NotFound()

    return guard
