"""Self-service signup."""

from __future__ import annotations

from litestar import post
from litestar.params import JSONBody

from core.security.schemas import TokenPair
from frontend_api.deps import ServicesDep
from tenants import service as tenants
from tenants.schemas import SignupCommand

__all__ = ["signup"]


@post(
    "/api/v1/signup",
    public=True,
    tags=["auth"],
    status_code=201,
    summary="Create a business account (free plan) with its owner, and sign in",
)
async def signup(data: JSONBody[SignupCommand], services: ServicesDep) -> TokenPair:
    return await tenants.signup(
        services.db,
        services.auth,
        services.registry,
        data,
        min_password_length=services.settings.password_min_length,
    )
