"""Imports and exports: the thin HTTP adapter over ``core/imports``.

The upload route reads its multipart body itself, as a stream: the file's bytes go into the
database chunk by chunk as they arrive (never all in memory, never on the local disk), under
``HUIKE_IMPORT_MAX_BYTES`` instead of the API's general ``HUIKE_MAX_BODY_BYTES``.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream
from multipart import MultipartSegment, ParserError, PushMultipartParser
from sqlalchemy.ext.asyncio import AsyncSession

from core.imports import exports, service
from core.imports.permissions import EXPORT, RUN
from core.imports.schemas import ImportView, RowErrorView, RunRequest
from core.kernel.errors import Invalid, PayloadTooLarge
from core.kernel.pagination import Page
from core.security.principal import Principal
from frontend_api.deps import PageDep, PrincipalDep, ServicesDep, SessionDep
from frontend_api.filters import (
    CustomerFilterDep,
    LeadFilterDep,
    OpportunityFilterDep,
    customer_filters,
    lead_filters,
    opportunity_filters,
)
from frontend_api.services import Services

__all__ = ["ExportController", "ImportController"]

_FIELD_LIMIT = 64 * 1024


async def _read_upload(request: Request[Any, Any, Any], writer: Any) -> tuple[str, dict[str, str]]:
    """Feed the multipart body to ``writer`` (the part named ``file``) and collect the other
    form fields. Returns the file's name and the fields."""
    content_type, options = request.content_type
    boundary = options.get("boundary")
    if content_type != "multipart/form-data" or not boundary:
        raise Invalid(
            "Send the file as multipart/form-data (a part named file).",
            field="file",
            code="multipart_required",
        )
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > writer.max_bytes + _FIELD_LIMIT:
        raise PayloadTooLarge(
            f"The file is larger than the import limit of {writer.max_bytes // 1_048_576} MiB."
        )
    fields: dict[str, str] = {}
    filename: str | None = None
    segment: MultipartSegment | None = None
    value = bytearray()
    try:
        with PushMultipartParser(boundary.encode(), max_segment_count=50) as parser:
            async for chunk in request.stream():
                for event in parser.parse(chunk):
                    if isinstance(event, MultipartSegment):
                        segment, value = event, bytearray()
                        if segment.name == "file":
                            filename = segment.filename or "upload"
                    elif event and segment is not None:
                        if segment.name == "file":
                            await writer.write(bytes(event))
                        elif len(value) + len(event) <= _FIELD_LIMIT:
                            value += event
                    elif segment is not None:
                        if segment.name != "file":
                            fields[segment.name] = value.decode(segment.charset or "utf-8", errors="replace")
                        segment = None
                if parser.closed:
                    break
    except ParserError:
        raise Invalid("The multipart body is malformed.", field="file", code="malformed_body") from None
    if filename is None:
        raise Invalid("Attach the file as a part named file.", field="file", code="required")
    return filename, fields


class ImportController(Controller):
    path = "/api/v1/imports"
    tags = ["imports"]

    @post(
        "/",
        permission=RUN,
        summary="Upload a CSV or XLSX file to import (dry run by default)",
        description="multipart/form-data: `file`, `entity` (customer, contact, lead), `dry_run` "
        "(default true), `policy` (skip, update, create), `mapping` (JSON: header or column index -> "
        "field or null), `default_kind`, `default_owner_id`. Answers 202 with the column mapping; "
        "the dry run or run proceeds in the background (poll `GET /api/v1/imports/{id}`).",
        request_max_body_size=None,
        status_code=202,
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        session: SessionDep,
        principal: PrincipalDep,
    ) -> ImportView:
        writer = service.new_writer(session, services.settings.import_max_bytes)
        filename, fields = await _read_upload(request, writer)
        return await service.create_import(session, principal, writer, filename, fields)

    @get("/", permission=RUN, summary="List imports")
    async def list_imports(
        self, session: SessionDep, principal: PrincipalDep, page: PageDep
    ) -> Page[ImportView]:
        return await service.list_imports(session, principal, page)

    @get("/{import_id:uuid}", permission=RUN, summary="Show an import and its progress")
    async def show(
        self, session: SessionDep, principal: PrincipalDep, import_id: FromPath[uuid.UUID]
    ) -> ImportView:
        return await service.get_import(session, principal, import_id)

    @get("/{import_id:uuid}/errors", permission=RUN, summary="The rows that failed (or were skipped), paged")
    async def errors(
        self, session: SessionDep, principal: PrincipalDep, page: PageDep, import_id: FromPath[uuid.UUID]
    ) -> Page[RowErrorView]:
        return await service.list_errors(session, principal, import_id, page)

    @get("/{import_id:uuid}/errors.csv", permission=RUN, summary="Download the row errors as CSV")
    async def errors_csv(
        self, services: ServicesDep, principal: PrincipalDep, import_id: FromPath[uuid.UUID]
    ) -> Stream:
        chunks = await service.error_rows_csv(services.db, principal, import_id)
        return Stream(
            chunks,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'},
        )

    @post(
        "/{import_id:uuid}/run",
        permission=RUN,
        summary="Run a validated import (or dry-run it again with another mapping or policy)",
        status_code=202,
    )
    async def run(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        import_id: FromPath[uuid.UUID],
        data: JSONBody[RunRequest],
    ) -> ImportView:
        return await service.start_run(session, principal, import_id, data)

    @post("/{import_id:uuid}/undo", permission=RUN, summary="Undo a whole import", status_code=202)
    async def undo(
        self, session: SessionDep, principal: PrincipalDep, import_id: FromPath[uuid.UUID]
    ) -> ImportView:
        return await service.request_undo(session, principal, import_id)


def _streamed(export: exports.Export) -> Stream:
    return Stream(
        export.chunks,
        media_type=export.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "X-Export-Rows": str(export.rows),
        },
    )


async def _export(
    request: Request[Any, Any, Any],
    services: Services,
    session: AsyncSession,
    principal: Principal,
    entity: str,
    filters: Any,
    fmt: str,
) -> Stream:
    """A filtered list's export, streamed, with headers in the requester's language."""
    export = await exports.start_export(
        session, services.db, principal, entity, filters, fmt, language=request.headers.get("accept-language")
    )
    return _streamed(export)


class ExportController(Controller):
    path = "/api/v1"
    tags = ["exports"]

    @get(
        "/customers/export",
        permission=EXPORT,
        summary="Export customers (CSV or XLSX, the list's filters)",
        description="`format=csv` (default; UTF-8 with BOM for Excel) or `xlsx`, and the filters of "
        "`GET /api/v1/customers`. Headers follow `Accept-Language` or your language.",
        dependencies=customer_filters,
    )
    async def customers(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        session: SessionDep,
        principal: PrincipalDep,
        filters: CustomerFilterDep,
        format: FromQuery[str] = "csv",
    ) -> Stream:
        return await _export(request, services, session, principal, "customers", filters, format)

    @get(
        "/contacts/export",
        permission=EXPORT,
        summary="Export contacts (of the customers you may read; optionally one customer's)",
    )
    async def contacts(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        session: SessionDep,
        principal: PrincipalDep,
        format: FromQuery[str] = "csv",
        customer_id: FromQuery[uuid.UUID | None] = None,
    ) -> Stream:
        export = await exports.start_export(
            session,
            services.db,
            principal,
            "contacts",
            None,
            format,
            language=request.headers.get("accept-language"),
            customer_id=customer_id,
        )
        return _streamed(export)

    @get(
        "/leads/export",
        permission=EXPORT,
        summary="Export leads (CSV or XLSX, the list's filters)",
        dependencies=lead_filters,
    )
    async def leads(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        session: SessionDep,
        principal: PrincipalDep,
        filters: LeadFilterDep,
        format: FromQuery[str] = "csv",
    ) -> Stream:
        return await _export(request, services, session, principal, "leads", filters, format)

    @get(
        "/opportunities/export",
        permission=EXPORT,
        summary="Export opportunities (CSV or XLSX, the list's filters)",
        dependencies=opportunity_filters,
    )
    async def opportunities(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        session: SessionDep,
        principal: PrincipalDep,
        filters: OpportunityFilterDep,
        format: FromQuery[str] = "csv",
    ) -> Stream:
        return await _export(request, services, session, principal, "opportunities", filters, format)
