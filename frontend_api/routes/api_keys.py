"""API keys for integrations: create (the key is shown once), list, show, revoke."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, post
from litestar.params import FromPath, JSONBody

from core.kernel.pagination import Page
from core.security import api_keys
from core.security.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyView
from frontend_api.deps import PageDep, PrincipalDep, ServicesDep, SessionDep
from frontend_api.etags import IfMatchDep, etagged

__all__ = ["ApiKeyController"]


class ApiKeyController(Controller):
    path = "/api/v1/api-keys"
    tags = ["api keys"]

    @post(
        "/",
        permission="api_keys.manage",
        idempotency=False,  # the answer holds the key, which is never stored in clear
        status_code=201,
        summary="Create an API key; the answer holds the key, shown this once only",
    )
    async def create(
        self,
        session: SessionDep,
        services: ServicesDep,
        principal: PrincipalDep,
        data: JSONBody[ApiKeyCreate],
    ) -> ApiKeyCreated:
        return await api_keys.create_api_key(session, services.registry, principal, data)

    @get("/", permission="api_keys.manage", summary="List API keys (never their secrets)")
    async def list_keys(self, session: SessionDep, page: PageDep) -> Page[ApiKeyView]:
        return await api_keys.list_api_keys(session, page)

    @get("/{key_id:uuid}", permission="api_keys.manage", summary="Show an API key (never its secret)")
    async def show(self, session: SessionDep, key_id: FromPath[uuid.UUID]) -> Response[ApiKeyView]:
        return etagged(await api_keys.get_api_key(session, key_id))

    @delete("/{key_id:uuid}", permission="api_keys.manage", summary="Revoke an API key at once")
    async def revoke(self, session: SessionDep, key_id: FromPath[uuid.UUID], if_match: IfMatchDep) -> None:
        await api_keys.revoke_api_key(session, key_id, expected_version=if_match.version())
