"""Members of the tenant: list, show, change roles, team, status and work mobile, remove."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, patch
from litestar.params import FromPath, FromQuery, JSONBody

from core.kernel.pagination import Page
from core.security import members
from core.security.members import MemberUpdate, MemberView
from frontend_api.deps import PageDep, PrincipalDep, SessionDep
from frontend_api.etags import IfMatchDep, etagged

__all__ = ["MemberController"]


class MemberController(Controller):
    path = "/api/v1/members"
    tags = ["members"]

    @get("/", permission="members.read", summary="List the people of the account")
    async def list_members(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        page: PageDep,
        team_id: FromQuery[uuid.UUID | None] = None,
    ) -> Page[MemberView]:
        return await members.list_members(session, principal, page, team_id)

    @get("/{member_id:uuid}", permission="members.read", summary="Show a member")
    async def show(
        self, session: SessionDep, principal: PrincipalDep, member_id: FromPath[uuid.UUID]
    ) -> Response[MemberView]:
        return etagged(await members.get_member(session, principal, member_id))

    @patch(
        "/{member_id:uuid}",
        permission="members.manage",
        summary="Change a member's roles, team, status or work mobile",
    )
    async def update(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        member_id: FromPath[uuid.UUID],
        data: JSONBody[MemberUpdate],
        if_match: IfMatchDep,
    ) -> Response[MemberView]:
        return etagged(
            await members.update_member(
                session, principal, member_id, data, expected_version=if_match.version()
            )
        )

    @delete("/{member_id:uuid}", permission="members.manage", summary="Remove a member from the account")
    async def remove(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        member_id: FromPath[uuid.UUID],
        if_match: IfMatchDep,
    ) -> None:
        await members.deactivate_member(session, principal, member_id, expected_version=if_match.version())
