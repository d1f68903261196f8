"""Teams and their managers."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from core.kernel.pagination import Page
from core.security import teams
from core.security.teams import TeamCreate, TeamUpdate, TeamView
from frontend_api.deps import PageDep, SessionDep
from frontend_api.etags import IfMatchDep, etagged

__all__ = ["TeamController"]


class TeamController(Controller):
    path = "/api/v1/teams"
    tags = ["teams"]

    @get("/", permission="teams.read", summary="List teams")
    async def list_teams(self, session: SessionDep, page: PageDep) -> Page[TeamView]:
        return await teams.list_teams(session, page)

    @get("/{team_id:uuid}", permission="teams.read", summary="Show a team")
    async def show(self, session: SessionDep, team_id: FromPath[uuid.UUID]) -> Response[TeamView]:
        return etagged(await teams.get_team(session, team_id))

    @post("/", permission="teams.manage", summary="Create a team")
    async def create(self, session: SessionDep, data: JSONBody[TeamCreate]) -> TeamView:
        return await teams.create_team(session, data)

    @patch("/{team_id:uuid}", permission="teams.manage", summary="Rename a team or change its manager")
    async def update(
        self,
        session: SessionDep,
        team_id: FromPath[uuid.UUID],
        data: JSONBody[TeamUpdate],
        if_match: IfMatchDep,
    ) -> Response[TeamView]:
        return etagged(await teams.update_team(session, team_id, data, expected_version=if_match.version()))

    @delete("/{team_id:uuid}", permission="teams.manage", summary="Delete a team (its members stay)")
    async def remove(self, session: SessionDep, team_id: FromPath[uuid.UUID], if_match: IfMatchDep) -> None:
        await teams.delete_team(session, team_id, expected_version=if_match.version())
