"""Custom fields: the entity types that have them, and their definitions (tenant admins)."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from core.customfields import service
from core.customfields.schemas import EntityView, FieldCreate, FieldUpdate, FieldView
from core.kernel.pagination import Page
from frontend_api.deps import ServicesDep, SessionDep
from frontend_api.etags import IfMatchDep, etagged

__all__ = ["CustomFieldController"]


class CustomFieldController(Controller):
    path = "/api/v1/custom-fields"
    tags = ["custom fields"]

    @get("/", permission="custom_fields.read", summary="List the entity types that have custom fields")
    async def entities(self, services: ServicesDep) -> Page[EntityView]:
        return Page(items=service.list_entities(services.custom_fields), next_cursor=None)

    @get(
        "/{entity:str}",
        permission="custom_fields.read",
        summary="List the custom fields of an entity type, in form order (all in one page)",
    )
    async def list_fields(
        self,
        session: SessionDep,
        services: ServicesDep,
        entity: FromPath[str],
        include_archived: FromQuery[bool] = False,
    ) -> Page[FieldView]:
        items = await service.list_fields(
            session, services.custom_fields, entity, include_archived=include_archived
        )
        return Page(items=items, next_cursor=None)

    @get("/{entity:str}/{field_id:uuid}", permission="custom_fields.read", summary="Show a custom field")
    async def show(
        self, session: SessionDep, services: ServicesDep, entity: FromPath[str], field_id: FromPath[uuid.UUID]
    ) -> Response[FieldView]:
        return etagged(await service.get_field(session, services.custom_fields, entity, field_id))

    @post("/{entity:str}", permission="custom_fields.manage", summary="Add a custom field")
    async def create(
        self, session: SessionDep, services: ServicesDep, entity: FromPath[str], data: JSONBody[FieldCreate]
    ) -> Response[FieldView]:
        view = await service.create_field(session, services.custom_fields, entity, data)
        return etagged(view, status_code=201)

    @patch(
        "/{entity:str}/{field_id:uuid}",
        permission="custom_fields.manage",
        summary="Change a custom field (its type only while no record holds a value)",
    )
    async def update(
        self,
        session: SessionDep,
        services: ServicesDep,
        entity: FromPath[str],
        field_id: FromPath[uuid.UUID],
        data: JSONBody[FieldUpdate],
        if_match: IfMatchDep,
    ) -> Response[FieldView]:
        view = await service.update_field(
            session, services.custom_fields, entity, field_id, data, expected_version=if_match.version()
        )
        return etagged(view)

    @delete(
        "/{entity:str}/{field_id:uuid}",
        permission="custom_fields.manage",
        summary="Archive a custom field (values stay; PATCH archived=false restores it)",
    )
    async def remove(
        self,
        session: SessionDep,
        services: ServicesDep,
        entity: FromPath[str],
        field_id: FromPath[uuid.UUID],
        if_match: IfMatchDep,
    ) -> None:
        await service.archive_field(
            session, services.custom_fields, entity, field_id, expected_version=if_match.version()
        )
