"""The current tenant's settings."""

from __future__ import annotations

from litestar import Controller, Response, get, patch
from litestar.params import JSONBody

from core.security import tenant_settings
from core.security.tenant_settings import TenantSettingsUpdate, TenantSettingsView
from frontend_api.deps import PrincipalDep, SessionDep
from frontend_api.etags import IfMatchDep, etagged

__all__ = ["TenantController"]


class TenantController(Controller):
    path = "/api/v1/tenant"
    tags = ["tenant"]

    @get("/", permission="tenant.read", summary="Show the business account's settings")
    async def show(self, session: SessionDep, principal: PrincipalDep) -> Response[TenantSettingsView]:
        return etagged(await tenant_settings.get_tenant_settings(session, principal))

    @patch(
        "/",
        permission="tenant.manage",
        summary="Rename the account, set its time zone or require 2FA for its members",
    )
    async def update(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        data: JSONBody[TenantSettingsUpdate],
        if_match: IfMatchDep,
    ) -> Response[TenantSettingsView]:
        return etagged(
            await tenant_settings.update_tenant_settings(
                session, principal, data, expected_version=if_match.version()
            )
        )
