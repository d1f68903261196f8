"""Activities, tasks and the customer timeline: the thin HTTP adapter over ``core/activities``."""

from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from core.activities import service
from core.activities.schemas import ActivityCreate, ActivityFilter, ActivityUpdate, ActivityView, TimelineItem
from core.activities.timeline import customer_timeline
from core.kernel.pagination import Page
from frontend_api.deps import PageDep, PrincipalDep, ServicesDep, SessionDep
from frontend_api.etags import IfMatchDep, etagged

__all__ = ["ActivityController", "TimelineController"]


class ActivityController(Controller):
    path = "/api/v1/activities"
    tags = ["activities"]

    @get("/", permission="activities.read", summary="List activities and tasks")
    async def list_activities(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        page: PageDep,
        kind: FromQuery[str | None] = None,
        subject_type: FromQuery[str | None] = None,
        subject_id: FromQuery[uuid.UUID | None] = None,
        customer_id: FromQuery[uuid.UUID | None] = None,
        owner_id: FromQuery[uuid.UUID | None] = None,
        assignee_id: FromQuery[uuid.UUID | None] = None,
        status: FromQuery[str | None] = None,
        due_from: FromQuery[datetime | None] = None,
        due_to: FromQuery[datetime | None] = None,
        overdue: FromQuery[bool] = False,
        mine: FromQuery[bool] = False,
    ) -> Page[ActivityView]:
        filters = ActivityFilter(
            kind=kind,
            subject_type=subject_type,
            subject_id=subject_id,
            customer_id=customer_id,
            owner_id=owner_id,
            assignee_id=assignee_id,
            status=status,
            due_from=due_from,
            due_to=due_to,
            overdue=overdue,
            mine=mine,
        )
        return await service.list_activities(session, principal, page, filters)

    @post("/", permission="activities.create", summary="Log an activity or add a task")
    async def create(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        services: ServicesDep,
        data: JSONBody[ActivityCreate],
    ) -> Response[ActivityView]:
        view = await service.create_activity(session, principal, services.activity_subjects, data)
        return etagged(view, status_code=201)

    @get("/{activity_id:uuid}", permission="activities.read", summary="Show an activity or task")
    async def show(
        self, session: SessionDep, principal: PrincipalDep, activity_id: FromPath[uuid.UUID]
    ) -> Response[ActivityView]:
        return etagged(await service.get_activity(session, principal, activity_id))

    @patch("/{activity_id:uuid}", permission="activities.update", summary="Change an activity or task")
    async def update(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        services: ServicesDep,
        activity_id: FromPath[uuid.UUID],
        data: JSONBody[ActivityUpdate],
        if_match: IfMatchDep,
    ) -> Response[ActivityView]:
        view = await service.update_activity(
            session,
            principal,
            services.activity_subjects,
            activity_id,
            data,
            expected_version=if_match.version(),
        )
        return etagged(view)

    @delete("/{activity_id:uuid}", permission="activities.delete", summary="Delete an activity or task")
    async def remove(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        activity_id: FromPath[uuid.UUID],
        if_match: IfMatchDep,
    ) -> None:
        await service.delete_activity(session, principal, activity_id, expected_version=if_match.version())

    @post("/{activity_id:uuid}/complete", permission="activities.update", summary="Mark a task done")
    async def complete(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        activity_id: FromPath[uuid.UUID],
        if_match: IfMatchDep,
    ) -> Response[ActivityView]:
        view = await service.complete_task(
            session, principal, activity_id, expected_version=if_match.version()
        )
        return etagged(view)

    @post("/{activity_id:uuid}/reopen", permission="activities.update", summary="Open a done task again")
    async def reopen(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        activity_id: FromPath[uuid.UUID],
        if_match: IfMatchDep,
    ) -> Response[ActivityView]:
        view = await service.reopen_task(session, principal, activity_id, expected_version=if_match.version())
        return etagged(view)


class TimelineController(Controller):
    path = "/api/v1/customers/{customer_id:uuid}/timeline"
    tags = ["customers", "activities"]

    @get("/", permission="customers.read", summary="A customer's activities and events, newest first")
    async def timeline(
        self, session: SessionDep, principal: PrincipalDep, page: PageDep, customer_id: FromPath[uuid.UUID]
    ) -> Page[TimelineItem]:
        return await customer_timeline(session, principal, customer_id, page)
