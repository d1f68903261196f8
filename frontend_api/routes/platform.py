"""Platform administration: separate sign-in; tenants and apps: list, search, show, suspend,
resume."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from core.apps import status as app_status
from core.apps.models import AppStatus
from core.apps.schemas import PlatformAppView
from core.kernel.models import TenantStatus
from core.kernel.pagination import Page
from frontend_api.deps import PageDep, PlatformAdminDep, ServicesDep, SessionDep
from frontend_api.routes.auth import client_ip
from tenants import service as tenants
from tenants.schemas import StatusChange, TenantView

__all__ = ["PlatformAppController", "PlatformController", "platform_token"]


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


class PlatformAppController(Controller):
    """Every registered app: find one, suspend it (its tokens, consents and deliveries stop in
    every business at once) and resume it."""

    path = "/api/platform/apps"
    tags = ["platform"]
    opt = {"platform": True}

    @get("/", summary="List and search apps (by name or client id, by status)")
    async def list_apps(
        self,
        session: SessionDep,
        page: PageDep,
        q: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
    ) -> Page[PlatformAppView]:
        return await app_status.list_apps(session, page, q, status)

    @get("/{app_id:uuid}", summary="Show an app, its developer and how many businesses installed it")
    async def show(self, session: SessionDep, app_id: FromPath[uuid.UUID]) -> PlatformAppView:
        return await app_status.find_app(session, app_id)

    @post("/{app_id:uuid}/suspend", status_code=200, summary="Suspend an app everywhere (say why)")
    async def suspend(
        self,
        session: SessionDep,
        services: ServicesDep,
        platform_admin: PlatformAdminDep,
        app_id: FromPath[uuid.UUID],
        data: JSONBody[StatusChange],
    ) -> PlatformAppView:
        return await app_status.set_status(
            session, services.db, platform_admin.user_id, app_id, AppStatus.SUSPENDED, data.reason
        )

    @post("/{app_id:uuid}/resume", status_code=200, summary="Resume a suspended app")
    async def resume(
        self,
        session: SessionDep,
        services: ServicesDep,
        platform_admin: PlatformAdminDep,
        app_id: FromPath[uuid.UUID],
        data: JSONBody[StatusChange],
    ) -> PlatformAppView:
        return await app_status.set_status(
            session, services.db, platform_admin.user_id, app_id, AppStatus.ACTIVE, data.reason
        )
