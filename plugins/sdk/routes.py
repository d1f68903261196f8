"""What a plugin's route handlers ask for, by parameter name, like the core's routes::

    @get("/requests", opt={"permission": "creditcheck.read"})
    async def list_requests(session: SessionDep, principal: PrincipalDep) -> list[...]: ...

``session`` is the request's transaction, bound to the caller's tenant (committed when the
handler returns, rolled back when it raises); ``principal`` is the caller; ``page`` the list
parameters (``limit``, ``cursor``, ``sort``) for ``core.kernel.pagination.paginate``;
``settings`` Huike's settings; ``if_match`` the request's ``If-Match`` header, which
``if_match.version()`` turns into the ``expected_version`` of a change (``412
version_mismatch`` when the row changed meanwhile; see ``core.kernel.concurrency``), with
``etagged(view)`` answering a view with its ``ETag``::

    @patch("/requests/{request_id:uuid}", opt={"permission": "creditcheck.manage"})
    async def update(session: SessionDep, request_id: FromPath[uuid.UUID], if_match: IfMatchDep,
                     data: JSONBody[Change]) -> Response[View]:
        return etagged(await change(session, request_id, data, expected_version=if_match.version()))
"""

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.pagination import PageRequest
from core.kernel.settings import Settings
from core.security.principal import Principal
from frontend_api.etags import IfMatch, IfMatchDep, etagged

__all__ = [
    "IfMatch",
    "IfMatchDep",
    "PageDep",
    "Principal",
    "PrincipalDep",
    "SessionDep",
    "SettingsDep",
    "etagged",
]

SessionDep = NamedDependency[AsyncSession]
PrincipalDep = NamedDependency[Principal]
PageDep = NamedDependency[PageRequest]
SettingsDep = NamedDependency[Settings]
