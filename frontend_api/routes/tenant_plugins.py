"""The tenant's plugins: the thin HTTP adapter over ``tenants/plugins.py``."""

from __future__ import annotations

from litestar import Controller, Response, get, patch, post
from litestar.params import FromPath, JSONBody

from frontend_api.deps import ServicesDep, SessionDep
from frontend_api.etags import IfMatchDep, etagged
from tenants import plugins
from tenants.plugins import PluginConfigUpdate, PluginEnable, PluginView

__all__ = ["TenantPluginController"]


class TenantPluginController(Controller):
    path = "/api/v1/tenant/plugins"
    tags = ["plugins"]

    @get(
        "/",
        permission="plugins.manage",
        summary="List the installed plugins and their state",
    )
    async def list_plugins(self, session: SessionDep, services: ServicesDep) -> list[PluginView]:
        return await plugins.list_plugins(session, services.plugins, services.plugin_policy)

    @get(
        "/{name:str}",
        permission="plugins.manage",
        summary="Show a plugin: state, configuration, schema",
    )
    async def show(
        self, session: SessionDep, services: ServicesDep, name: FromPath[str]
    ) -> Response[PluginView]:
        return etagged(await plugins.get_plugin(session, services.plugins, services.plugin_policy, name))

    @post("/{name:str}/enable", permission="plugins.manage", summary="Enable a plugin with its configuration")
    async def enable(
        self,
        session: SessionDep,
        services: ServicesDep,
        name: FromPath[str],
        data: JSONBody[PluginEnable],
        if_match: IfMatchDep,
    ) -> Response[PluginView]:
        view = await plugins.enable(
            session, services.plugins, services.plugin_policy, name, data, expected_version=if_match.version()
        )
        return etagged(view)

    @patch("/{name:str}", permission="plugins.manage", summary="Change an enabled plugin's configuration")
    async def configure(
        self,
        session: SessionDep,
        services: ServicesDep,
        name: FromPath[str],
        data: JSONBody[PluginConfigUpdate],
        if_match: IfMatchDep,
    ) -> Response[PluginView]:
        return etagged(
            await plugins.configure(
                session, services.plugins, name, data, expected_version=if_match.version()
            )
        )

    @post("/{name:str}/disable", permission="plugins.manage", summary="Disable a plugin for this account")
    async def disable(
        self, session: SessionDep, services: ServicesDep, name: FromPath[str], if_match: IfMatchDep
    ) -> Response[PluginView]:
        return etagged(
            await plugins.disable(session, services.plugins, name, expected_version=if_match.version())
        )

    @post(
        "/{name:str}/resume",
        permission="plugins.manage",
        summary="Resume a plugin paused after failures",
    )
    async def resume(
        self, session: SessionDep, services: ServicesDep, name: FromPath[str], if_match: IfMatchDep
    ) -> Response[PluginView]:
        return etagged(
            await plugins.resume(session, services.plugins, name, expected_version=if_match.version())
        )
