"""The caller's own two-factor authentication: set up, enable, disable."""

from __future__ import annotations

from litestar import Controller, post
from litestar.datastructures import CacheControlHeader
from litestar.params import JSONBody

from core.security import two_factor
from core.security.two_factor import DisableTwoFactor, EnableTwoFactor, TwoFactorSetup, TwoFactorStatus
from frontend_api.deps import PrincipalDep, SessionDep
from frontend_api.security import AUTHENTICATED

__all__ = ["TwoFactorController"]


class TwoFactorController(Controller):
    path = "/api/v1/me/2fa"
    tags = ["auth"]
    cache_control = CacheControlHeader(no_store=True)

    @post(
        "/setup",
        permission=AUTHENTICATED,
        idempotency=False,  # the answer holds the new TOTP secret
        two_factor_setup=True,
        allowed_when_suspended=True,
        status_code=200,
        summary="Get a new secret for an authenticator app (2FA stays off until enabled)",
    )
    async def setup(self, session: SessionDep, principal: PrincipalDep) -> TwoFactorSetup:
        return await two_factor.start_setup(session, principal)

    @post(
        "/enable",
        permission=AUTHENTICATED,
        two_factor_setup=True,
        allowed_when_suspended=True,
        status_code=200,
        summary="Turn 2FA on with a code from the authenticator app",
    )
    async def enable(
        self, session: SessionDep, principal: PrincipalDep, data: JSONBody[EnableTwoFactor]
    ) -> TwoFactorStatus:
        return await two_factor.enable(session, principal, data)

    @post(
        "/disable",
        permission=AUTHENTICATED,
        status_code=200,
        summary="Turn 2FA off with the password and a current code",
    )
    async def disable(
        self, session: SessionDep, principal: PrincipalDep, data: JSONBody[DisableTwoFactor]
    ) -> TwoFactorStatus:
        return await two_factor.disable(session, principal, data)
