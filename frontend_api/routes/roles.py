"""Roles and the permission catalogue."""

from __future__ import annotations

import uuid

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from core.kernel.pagination import Page
from core.security import roles
from core.security.roles import RoleCreate, RoleUpdate, RoleView
from frontend_api.deps import PageDep, PrincipalDep, ServicesDep, SessionDep
from frontend_api.etags import IfMatchDep, etagged

__all__ = ["RoleController", "list_permissions"]


class PermissionView(msgspec.Struct):
    name: str
    description: str


@get(
    "/api/v1/permissions",
    permission="roles.read",
    tags=["roles"],
    summary="Every permission a role can grant",
)
async def list_permissions(services: ServicesDep) -> list[PermissionView]:
    return [PermissionView(p.name, p.description) for p in services.registry]


class RoleController(Controller):
    path = "/api/v1/roles"
    tags = ["roles"]

    @get("/", permission="roles.read", summary="List roles")
    async def list_roles(self, session: SessionDep, page: PageDep) -> Page[RoleView]:
        return await roles.list_roles(session, page)

    @get("/{role_id:uuid}", permission="roles.read", summary="Show a role")
    async def show(self, session: SessionDep, role_id: FromPath[uuid.UUID]) -> Response[RoleView]:
        return etagged(roles.role_view(await roles.get_role(session, role_id)))

    @post("/", permission="roles.manage", summary="Create a role")
    async def create(
        self, session: SessionDep, services: ServicesDep, principal: PrincipalDep, data: JSONBody[RoleCreate]
    ) -> RoleView:
        return await roles.create_role(session, services.registry, principal, data)

    @patch("/{role_id:uuid}", permission="roles.manage", summary="Rename a role or change its grants")
    async def update(
        self,
        session: SessionDep,
        services: ServicesDep,
        principal: PrincipalDep,
        role_id: FromPath[uuid.UUID],
        data: JSONBody[RoleUpdate],
        if_match: IfMatchDep,
    ) -> Response[RoleView]:
        return etagged(
            await roles.update_role(
                session, services.registry, principal, role_id, data, expected_version=if_match.version()
            )
        )

    @delete("/{role_id:uuid}", permission="roles.manage", summary="Delete a role no one holds")
    async def remove(self, session: SessionDep, role_id: FromPath[uuid.UUID], if_match: IfMatchDep) -> None:
        await roles.delete_role(session, role_id, expected_version=if_match.version())
