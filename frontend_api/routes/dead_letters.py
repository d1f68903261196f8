"""Platform admins see the jobs and handlers that kept failing, and replay them."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery

from core.jobs import dead_letters
from core.jobs.schemas import DeadLetterView
from core.kernel.pagination import Page
from frontend_api.deps import PageDep, PlatformAdminDep, SessionDep

__all__ = ["DeadLetterController"]


class DeadLetterController(Controller):
    path = "/api/platform/dead-letters"
    tags = ["platform"]
    opt = {"platform": True}

    @get("/", summary="List dead letters (oldest first; pending=true hides replayed ones)")
    async def list_dead_letters(
        self, session: SessionDep, page: PageDep, pending: FromQuery[bool] = False
    ) -> Page[DeadLetterView]:
        return await dead_letters.list_dead_letters(session, page, pending_only=pending)

    @post("/{dead_letter_id:uuid}/replay", status_code=202, summary="Send a dead letter again")
    async def replay(
        self, session: SessionDep, platform_admin: PlatformAdminDep, dead_letter_id: FromPath[uuid.UUID]
    ) -> DeadLetterView:
        return await dead_letters.replay(session, platform_admin.user_id, dead_letter_id)
