"""Invitations: invite people by email, list and revoke pending invitations, accept one."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, JSONBody

from core.kernel.pagination import Page
from core.security import invitations
from core.security.invitations import InvitationAccept, InvitationCreate, InvitationView
from core.security.schemas import TokenPair
from frontend_api.deps import PageDep, PrincipalDep, ServicesDep, SessionDep
from frontend_api.etags import IfMatchDep
from frontend_api.routes.auth import client_ip

__all__ = ["InvitationController"]


class InvitationController(Controller):
    path = "/api/v1/invitations"
    tags = ["members"]

    @post("/", permission="members.invite", status_code=201, summary="Invite a person by email")
    async def create(
        self, services: ServicesDep, principal: PrincipalDep, data: JSONBody[InvitationCreate]
    ) -> InvitationView:
        return await invitations.invite(services.db, services.settings, principal, data)

    @get("/", permission="members.invite", summary="List pending invitations")
    async def list_invitations(self, session: SessionDep, page: PageDep) -> Page[InvitationView]:
        return await invitations.list_invitations(session, page)

    @delete("/{invitation_id:uuid}", permission="members.invite", summary="Revoke an invitation")
    async def revoke(
        self, session: SessionDep, invitation_id: FromPath[uuid.UUID], if_match: IfMatchDep
    ) -> None:
        await invitations.revoke_invitation(session, invitation_id, expected_version=if_match.version())

    @post(
        "/accept",
        public=True,
        status_code=201,
        tags=["auth"],
        summary="Accept an invitation: join the business and sign in there",
    )
    async def accept(
        self, data: JSONBody[InvitationAccept], services: ServicesDep, request: Request[Any, Any, Any]
    ) -> TokenPair:
        return await invitations.accept_invitation(
            services.db,
            services.auth,
            data,
            ip=client_ip(request),
            min_password_length=services.settings.password_min_length,
        )
