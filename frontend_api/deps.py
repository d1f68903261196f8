"""Dependencies every route may ask for by name: ``services``, ``session``, ``principal``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.errors import Unauthorized
from core.kernel.pagination import PageRequest
from core.kernel.settings import Settings
from core.security.principal import Principal
from frontend_api.etags import provide_if_match
from frontend_api.request_transaction import take_request_transaction
from frontend_api.security import PlatformPrincipal, principal_of
from frontend_api.services import Services

__all__ = [
    "PageDep",
    "PlatformAdminDep",
    "PrincipalDep",
    "ServicesDep",
    "SessionDep",
    "dependencies",
]


def provide_services(state: State) -> Services:
    services: Services = state.services
    return services


def provide_settings(state: State) -> Settings:
    services: Services = state.services
    return services.settings


async def provide_session(request: Request[Any, Any, Any]) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back when it
    raises (the error is thrown into this generator). For a member the guard opened it
    already, to resolve the caller (``frontend_api.request_transaction``)."""
    opened = take_request_transaction(request)
    if opened is None:
        services: Services = request.app.state.services
        async with services.db.transaction() as session:
            yield session
        return
    async with opened.stack:
        yield opened.session


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    return principal_of(request)


def provide_platform_admin(request: Request[Any, Any, Any]) -> PlatformPrincipal:
    admin = request.state.get("principal")
    if not isinstance(admin, PlatformPrincipal):
        raise Unauthorized("Sign in as a platform admin.", code="not_authenticated")
    return admin


def provide_page(
    limit: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
    sort: FromQuery[str | None] = None,
) -> PageRequest:
    """Never fails: dependencies resolve side by side with the session, and a failing one
    would leave the session's generator unclosed. ``paginate`` validates the values."""
    return PageRequest(limit=limit, cursor=cursor, sort=sort)


dependencies = {
    "services": Provide(provide_services, sync_to_thread=False),
    "settings": Provide(provide_settings, sync_to_thread=False),
    "session": Provide(provide_session),
    "principal": Provide(provide_principal, sync_to_thread=False),
    "platform_admin": Provide(provide_platform_admin, sync_to_thread=False),
    "page": Provide(provide_page, sync_to_thread=False),
    "if_match": Provide(provide_if_match, sync_to_thread=False),
}

# Handlers name what they need with these markers; the parameter name is the dependency key.
ServicesDep = NamedDependency[Services]
SessionDep = NamedDependency[AsyncSession]
PrincipalDep = NamedDependency[Principal]
PlatformAdminDep = NamedDependency[PlatformPrincipal]
PageDep = NamedDependency[PageRequest]
