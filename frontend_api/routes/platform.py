"""Platform administration: separate sign-in, tenants list, search, show, suspend, resume."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from core.kernel.models import TenantStatus
from core.kernel.pagination import Page
from frontend_api.deps import PageDep, PlatformAdminDep, ServicesDep, SessionDep
from frontend_api.routes.auth import client_ip
from tenants import service as tenants
from tenants.schemas import StatusChange, TenantView

__all__ = ["PlatformController", "platform_token"]


class PlatformLogin(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    password: str
    otp: str | None = None


class PlatformToken(msgspec.Struct):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret


@post("/api/platform/auth/token", public=True, tags=["platform"], summary="Sign a platform admin in")
async def platform_token(
    data: JSONBody[PlatformLogin], services: ServicesDep, request: Request[Any, Any, Any]
) -> PlatformToken:
    token = await services.auth.platform_login(data.email, data.password, data.otp, client_ip(request))
    return PlatformToken(access_token=token)


class PlatformController(Controller):
    path = "/api/platform/tenants"
    tags = ["platform"]
    opt = {"platform": True}

    @get("/", summary="List and search tenants")
    async def list_tenants(
        self,
        session: SessionDep,
        page: PageDep,
        q: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
    ) -> Page[TenantView]:
        return await tenants.list_tenants(session, page, q, status)

    @get("/{tenant_id:uuid}", summary="Show a tenant")
    async def show(self, session: SessionDep, tenant_id: FromPath[uuid.UUID]) -> TenantView:
        return tenants.to_view(await tenants.find_tenant(session, tenant_id))

    @post("/{tenant_id:uuid}/suspend", status_code=200, summary="Suspend a tenant (read-only)")
    async def suspend(
        self,
        session: SessionDep,
        platform_admin: PlatformAdminDep,
        tenant_id: FromPath[uuid.UUID],
        data: JSONBody[StatusChange],
    ) -> TenantView:
        tenant = await tenants.set_status(
            session, platform_admin.user_id, tenant_id, TenantStatus.SUSPENDED, data.reason
        )
        return tenants.to_view(tenant)

    @post("/{tenant_id:uuid}/resume", status_code=200, summary="Resume a suspended tenant")
    async def resume(
        self,
        session: SessionDep,
        platform_admin: PlatformAdminDep,
        tenant_id: FromPath[uuid.UUID],
        data: JSONBody[StatusChange],
    ) -> TenantView:
        tenant = await tenants.set_status(
            session, platform_admin.user_id, tenant_id, TenantStatus.ACTIVE, data.reason
        )
        return tenants.to_view(tenant)
