"""Leads, their web forms and assignment rules: the thin HTTP adapter over ``core/leads``."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from core.kernel.errors import Invalid
from core.kernel.pagination import Page
from core.leads import assignment, forms, service
from core.leads.schemas import (
    AssignRequest,
    ConvertRequest,
    ConvertResult,
    FormCreate,
    FormUpdate,
    FormView,
    LeadCreate,
    LeadUpdate,
    LeadView,
    RuleCreate,
    RuleUpdate,
    RuleView,
    StatusChange,
)
from frontend_api.deps import PageDep, PrincipalDep, ServicesDep, SessionDep
from frontend_api.etags import IfMatchDep, etagged
from frontend_api.filters import LeadFilterDep, lead_filters
from frontend_api.routes.auth import client_ip

__all__ = ["LeadAssignmentRuleController", "LeadController", "LeadFormController", "submit_lead_form"]


class LeadController(Controller):
    path = "/api/v1/leads"
    tags = ["leads"]

    @get("/", permission="leads.read", summary="List and search leads", dependencies=lead_filters)
    async def list_leads(
        self, session: SessionDep, principal: PrincipalDep, page: PageDep, filters: LeadFilterDep
    ) -> Page[LeadView]:
        return await service.list_leads(session, principal, page, filters)

    @post("/", permission="leads.create", summary="Add a lead")
    async def create(
        self, session: SessionDep, principal: PrincipalDep, data: JSONBody[LeadCreate]
    ) -> Response[LeadView]:
        return etagged(await service.create_lead(session, principal, data), status_code=201)

    @get("/{lead_id:uuid}", permission="leads.read", summary="Show a lead")
    async def show(
        self, session: SessionDep, principal: PrincipalDep, lead_id: FromPath[uuid.UUID]
    ) -> Response[LeadView]:
        return etagged(await service.get_lead(session, principal, lead_id))

    @patch("/{lead_id:uuid}", permission="leads.update", summary="Change a lead")
    async def update(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        lead_id: FromPath[uuid.UUID],
        data: JSONBody[LeadUpdate],
        if_match: IfMatchDep,
    ) -> Response[LeadView]:
        view = await service.update_lead(
            session, principal, lead_id, data, expected_version=if_match.version()
        )
        return etagged(view)

    @delete("/{lead_id:uuid}", permission="leads.delete", summary="Delete a lead")
    async def remove(
        self, session: SessionDep, principal: PrincipalDep, lead_id: FromPath[uuid.UUID], if_match: IfMatchDep
    ) -> None:
        await service.delete_lead(session, principal, lead_id, expected_version=if_match.version())

    @post(
        "/{lead_id:uuid}/status",
        permission="leads.update",
        status_code=200,
        summary="Qualify or disqualify a lead",
    )
    async def change_status(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        lead_id: FromPath[uuid.UUID],
        data: JSONBody[StatusChange],
        if_match: IfMatchDep,
    ) -> Response[LeadView]:
        view = await service.change_status(
            session, principal, lead_id, data, expected_version=if_match.version()
        )
        return etagged(view)

    @post(
        "/{lead_id:uuid}/assign", permission="leads.assign", status_code=200, summary="Give a lead to someone"
    )
    async def assign(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        lead_id: FromPath[uuid.UUID],
        data: JSONBody[AssignRequest],
        if_match: IfMatchDep,
    ) -> Response[LeadView]:
        view = await service.assign_lead(
            session, principal, lead_id, data, expected_version=if_match.version()
        )
        return etagged(view)

    @post(
        "/{lead_id:uuid}/convert",
        permission="leads.convert",
        status_code=200,
        summary="Convert a lead into a customer, contact and opportunity",
    )
    async def convert(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        lead_id: FromPath[uuid.UUID],
        data: JSONBody[ConvertRequest],
        if_match: IfMatchDep,
    ) -> ConvertResult:
        return await service.convert_lead(
            session, principal, lead_id, data, expected_version=if_match.version()
        )


class LeadFormController(Controller):
    path = "/api/v1/lead-forms"
    tags = ["leads"]

    @get("/", permission="leads.manage", summary="List the web forms that collect leads")
    async def list_forms(self, session: SessionDep, page: PageDep) -> Page[FormView]:
        return await forms.list_forms(session, page)

    @post("/", permission="leads.manage", summary="Add a web form (its token is shown once)")
    async def create(self, session: SessionDep, data: JSONBody[FormCreate]) -> Response[FormView]:
        return etagged(await forms.create_form(session, data), status_code=201)

    @get("/{form_id:uuid}", permission="leads.manage", summary="Show a web form")
    async def show(self, session: SessionDep, form_id: FromPath[uuid.UUID]) -> Response[FormView]:
        return etagged(await forms.get_form(session, form_id))

    @patch("/{form_id:uuid}", permission="leads.manage", summary="Change or switch off a web form")
    async def update(
        self,
        session: SessionDep,
        form_id: FromPath[uuid.UUID],
        data: JSONBody[FormUpdate],
        if_match: IfMatchDep,
    ) -> Response[FormView]:
        return etagged(await forms.update_form(session, form_id, data, expected_version=if_match.version()))

    @post(
        "/{form_id:uuid}/rotate-token",
        permission="leads.manage",
        status_code=200,
        summary="Give a web form a new token (the old one stops working)",
    )
    async def rotate(
        self, session: SessionDep, form_id: FromPath[uuid.UUID], if_match: IfMatchDep
    ) -> Response[FormView]:
        return etagged(await forms.rotate_token(session, form_id, expected_version=if_match.version()))

    @delete("/{form_id:uuid}", permission="leads.manage", summary="Delete a web form")
    async def remove(self, session: SessionDep, form_id: FromPath[uuid.UUID], if_match: IfMatchDep) -> None:
        await forms.delete_form(session, form_id, expected_version=if_match.version())


class LeadAssignmentRuleController(Controller):
    path = "/api/v1/lead-assignment-rules"
    tags = ["leads"]

    @get("/", permission="leads.manage", summary="List the lead assignment rules, in the order tried")
    async def list_rules(self, session: SessionDep) -> list[RuleView]:
        return await assignment.list_rules(session)

    @post("/", permission="leads.manage", summary="Add a lead assignment rule")
    async def create(self, session: SessionDep, data: JSONBody[RuleCreate]) -> Response[RuleView]:
        return etagged(await assignment.create_rule(session, data), status_code=201)

    @get("/{rule_id:uuid}", permission="leads.manage", summary="Show a lead assignment rule")
    async def show(self, session: SessionDep, rule_id: FromPath[uuid.UUID]) -> Response[RuleView]:
        return etagged(await assignment.get_rule(session, rule_id))

    @patch("/{rule_id:uuid}", permission="leads.manage", summary="Change a lead assignment rule")
    async def update(
        self,
        session: SessionDep,
        rule_id: FromPath[uuid.UUID],
        data: JSONBody[RuleUpdate],
        if_match: IfMatchDep,
    ) -> Response[RuleView]:
        return etagged(
            await assignment.update_rule(session, rule_id, data, expected_version=if_match.version())
        )

    @delete("/{rule_id:uuid}", permission="leads.manage", summary="Delete a lead assignment rule")
    async def remove(self, session: SessionDep, rule_id: FromPath[uuid.UUID], if_match: IfMatchDep) -> None:
        await assignment.delete_rule(session, rule_id, expected_version=if_match.version())


@post(
    f"{forms.PUBLIC_PATH}/{{token:str}}",
    public=True,
    opt={"rate_limit": "lead_form"},
    tags=["leads"],
    status_code=201,
    summary="Send a web form: becomes a lead of the form's business (JSON or form-encoded)",
)
async def submit_lead_form(
    token: FromPath[str], services: ServicesDep, request: Request[Any, Any, Any]
) -> dict[str, bool]:
    """The page may post JSON or ``application/x-www-form-urlencoded``; fields other than
    name, company, title, phone, email, message and region are ignored."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        fields = await request.json()
    elif content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        fields = dict((await request.form()).items())
    else:
        raise Invalid("Send the form as JSON or form-encoded.", code="unsupported_media_type")
    if not isinstance(fields, dict):
        raise Invalid("Send the form's fields as an object.", code="invalid_body")
    await forms.submit(services.db, token, fields, ip=client_ip(request))
    return {"received": True}
