"""Sign in, refresh, switch tenant, sign out."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, post
from litestar.params import JSONBody

from core.security.schemas import LoginCommand, RefreshCommand, SwitchTenantCommand, TokenPair
from frontend_api.deps import PrincipalDep, ServicesDep
from frontend_api.security import AUTHENTICATED

__all__ = ["AuthController"]


def client_ip(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/token", public=True, summary="Sign in and get tokens for one tenant")
    async def token(
        self, data: JSONBody[LoginCommand], services: ServicesDep, request: Request[Any, Any, Any]
    ) -> TokenPair:
        return await services.auth.login(data, client_ip(request))

    @post("/refresh", public=True, summary="Trade a refresh token for a new pair (rotation)")
    async def refresh(self, data: JSONBody[RefreshCommand], services: ServicesDep) -> TokenPair:
        return await services.auth.refresh(data.refresh_token)

    @post(
        "/switch",
        permission=AUTHENTICATED,
        idempotency=False,  # the answer holds tokens
        allowed_when_suspended=True,
        two_factor_setup=True,
        summary="Get tokens for another tenant you belong to",
    )
    async def switch(
        self, data: JSONBody[SwitchTenantCommand], services: ServicesDep, principal: PrincipalDep
    ) -> TokenPair:
        return await services.auth.switch_tenant(principal, data.tenant)

    @post(
        "/logout",
        permission=AUTHENTICATED,
        allowed_when_suspended=True,
        two_factor_setup=True,
        status_code=204,
        summary="Revoke this session's tokens",
    )
    async def logout(
        self, services: ServicesDep, principal: PrincipalDep, request: Request[Any, Any, Any]
    ) -> None:
        claims = services.signer.verify(request.headers["authorization"].split(" ", 1)[1].strip(), "access")
        await services.auth.logout(principal, uuid.UUID(claims["fam"]))
