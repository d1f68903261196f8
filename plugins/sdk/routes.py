"""What a plugin's route handlers ask for, by parameter name, like the core's routes::

    @get("/requests", opt={"permission": "creditcheck.read"})
    async def list_requests(session: SessionDep, principal: PrincipalDep) -> list[...]: ...

``session`` is the request's transaction, bound to the caller's tenant (committed when the
handler returns, rolled back when it raises); ``principal`` is the caller; ``page`` the list
parameters (``limit``, ``cursor``, ``sort``) for ``core.kernel.pagination.paginate``;
``settings`` Huike's settings.
"""

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.pagination import PageRequest
from core.kernel.settings import Settings
from core.security.principal import Principal

__all__ = ["PageDep", "Principal", "PrincipalDep", "SessionDep", "SettingsDep"]

SessionDep = NamedDependency[AsyncSession]
PrincipalDep = NamedDependency[Principal]
PageDep = NamedDependency[PageRequest]
SettingsDep = NamedDependency[Settings]
