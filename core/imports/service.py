"""Import use cases: upload (store the file, map its columns, queue a dry run or a run), show
the progress, list row errors, run a validated import, undo one.

Imports are seen through ``imports.run``'s scope by their uploader (``created_by``): a sales
manager sees their team's imports, an admin everyone's; another's is a 404.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.customers.access import active_membership
from core.customfields.service import definitions_for
from core.imports.files import ChunkFile, ChunkWriter, detect, read_rows
from core.imports.jobs import ImportJob, run, undo
from core.imports.mapping import apply_overrides, auto_map
from core.imports.models import ImportBatch, ImportRowError, ImportStatus, Policy
from core.imports.permissions import CREATE_PERMISSION, RUN
from core.imports.rows import converted
from core.imports.schemas import ColumnView, ImportOptions, ImportView, RowErrorView, RunRequest
from core.jobs.service import enqueue
from core.kernel.database import Database
from core.kernel.errors import Conflict, Forbidden, Invalid, NotFound, one_of
from core.kernel.pagination import Page, PageRequest, paginate
from core.kernel.tenancy import tenant_context
from core.security.principal import Principal
from core.security.scope import owner_filter

__all__ = [
    "ENTITIES",
    "create_import",
    "error_rows_csv",
    "get_import",
    "import_view",
    "list_errors",
    "list_imports",
    "new_writer",
    "request_undo",
    "start_run",
]

ENTITIES = ("customer", "contact", "lead")
#: The fields a real run cannot do without, per entity.
_REQUIRED = {"customer": ("name",), "contact": ("customer", "name"), "lead": ("name",)}


def new_writer(session: AsyncSession, max_bytes: int) -> ChunkWriter:
    """Where an upload's bytes go as they arrive (the import's id is chosen now)."""
    from core.kernel.ids import new_id

    return ChunkWriter(session, new_id(), max_bytes)


def _options(fields: dict[str, str]) -> ImportOptions:
    data: dict[str, Any] = dict(fields)
    if "mapping" in data:
        try:
            data["mapping"] = msgspec.json.decode(data["mapping"] or "{}")
        except msgspec.DecodeError:
            raise Invalid("mapping must be a JSON object.", field="mapping", code="invalid_mapping") from None
    for key in ("default_owner_id",):
        if data.get(key) == "":
            data.pop(key)
    options: ImportOptions = converted(data, ImportOptions, strict=False)
    return options


def import_view(batch: ImportBatch) -> ImportView:
    fields = {int(i): f for i, f in batch.mapping.items()}
    headers = list(batch.headers)
    return ImportView(
        id=batch.id,
        entity=batch.entity,
        filename=batch.filename,
        file_format=batch.file_format,
        encoding=batch.encoding,
        size_bytes=batch.size_bytes,
        columns=[ColumnView(index=i, header=h, field=fields.get(i)) for i, h in enumerate(headers)],
        unmapped=[h for i, h in enumerate(headers) if i not in fields and h],
        policy=batch.policy,
        dry_run=batch.dry_run,
        status=batch.status,
        total_rows=batch.total_rows,
        processed_rows=batch.processed_rows,
        created=batch.created_count,
        updated=batch.updated_count,
        skipped=batch.skipped_count,
        failed=batch.failed_count,
        undone=batch.undone_count,
        kept=batch.kept_count,
        error=batch.error,
        created_by=batch.created_by,
        created_at=batch.created_at,
        started_at=batch.started_at,
        finished_at=batch.finished_at,
        version=batch.version,
        defaults=dict(batch.defaults),
    )


def _check_required(entity: str, mapping: dict[str, str]) -> None:
    for required in _REQUIRED[entity]:
        if required not in mapping.values():
            raise Invalid(
                f"No column is mapped to {required!r}: name it in the mapping.",
                field="mapping",
                code="required_column_missing",
            )


async def create_import(
    session: AsyncSession, principal: Principal, writer: ChunkWriter, filename: str, fields: dict[str, str]
) -> ImportView:
    """Finish an upload whose bytes went to ``writer``: check the options, read the headers,
    map the columns, and queue the dry run (or the run)."""
    options = _options(fields)
    entity = one_of(options.entity, ENTITIES, "entity")
    one_of(options.policy, Policy.ALL, "policy")
    one_of(options.default_kind, ("company", "individual"), "default_kind")
    if principal.user_id is None:
        raise Forbidden("Imports are run by a signed-in person, not an API key.", code="not_a_person")
    if not principal.can(CREATE_PERMISSION[entity]):
        raise Forbidden(
            f"You need the permission {CREATE_PERMISSION[entity]!r} for this.", code="permission_denied"
        )
    await writer.close()
    file_format, encoding = detect(filename, writer.head)
    defaults: dict[str, Any] = {"kind": options.default_kind}
    if options.default_owner_id is not None:
        await active_membership(
            session, principal, options.default_owner_id, CREATE_PERMISSION[entity], "default_owner_id"
        )
        defaults["owner_id"] = str(options.default_owner_id)
    size = writer.size

    def header(sync_session: Any) -> list[str]:
        rows = read_rows(ChunkFile(sync_session, writer.import_id, size), file_format, encoding)
        first = next(iter(rows), None)
        return [(cell or "").strip() for cell in first or []]

    headers = await session.run_sync(header)
    while headers and not headers[-1]:
        headers.pop()
    if not headers:
        raise Invalid(
            "The file is empty: the first row must hold the column headers.", field="file", code="empty_file"
        )
    definitions = await definitions_for(session, entity)
    mapping = apply_overrides(
        entity, headers, auto_map(entity, headers, definitions), options.mapping, definitions
    )
    if not options.dry_run:
        _check_required(entity, mapping)
    batch = ImportBatch(
        id=writer.import_id,
        entity=entity,
        filename=(filename or "upload")[:255],
        file_format=file_format,
        encoding=encoding,
        size_bytes=size,
        headers=headers,
        mapping=mapping,
        policy=options.policy,
        defaults=defaults,
        dry_run=options.dry_run,
        status=ImportStatus.QUEUED,
        created_by=principal.user_id,
    )
    session.add(batch)
    await session.flush()
    await enqueue(session, run, ImportJob(import_id=batch.id))
    return import_view(batch)


async def _in_scope(
    session: AsyncSession, principal: Principal, import_id: uuid.UUID, *, lock: bool = False
) -> ImportBatch:
    stmt = select(ImportBatch).where(
        ImportBatch.id == import_id, await owner_filter(session, principal, RUN, ImportBatch.created_by)
    )
    batch = await session.scalar(stmt.with_for_update() if lock else stmt)
    if batch is None:
        raise NotFound()
    return batch


async def get_import(session: AsyncSession, principal: Principal, import_id: uuid.UUID) -> ImportView:
    return import_view(await _in_scope(session, principal, import_id))


async def list_imports(session: AsyncSession, principal: Principal, page: PageRequest) -> Page[ImportView]:
    stmt = select(ImportBatch).where(await owner_filter(session, principal, RUN, ImportBatch.created_by))
    return await paginate(
        session, stmt, ImportBatch.id, page, import_view, sortable={"created_at": ImportBatch.created_at}
    )


def _error_view(error: ImportRowError) -> RowErrorView:
    return RowErrorView(
        id=error.id,
        row=error.row_number,
        field=error.field,
        column=error.column,
        code=error.code,
        reason=error.reason,
    )


async def list_errors(
    session: AsyncSession, principal: Principal, import_id: uuid.UUID, page: PageRequest
) -> Page[RowErrorView]:
    """The row errors (and skipped duplicates) of an import, in row order."""
    batch = await _in_scope(session, principal, import_id)
    stmt = select(ImportRowError).where(ImportRowError.import_id == batch.id)
    return await paginate(
        session, stmt, ImportRowError.id, page, _error_view, sortable={"row": ImportRowError.row_number}
    )


async def error_rows_csv(
    db: Database, principal: Principal, import_id: uuid.UUID, *, batch_size: int = 1000
) -> AsyncIterator[bytes]:
    """The row errors as CSV (UTF-8 with a BOM, for Excel), read a batch at a time."""
    with tenant_context(principal.tenant_id):
        async with db.transaction() as session:
            await _in_scope(session, principal, import_id)
    return _error_lines(db, principal.tenant_id, import_id, batch_size)


async def _error_lines(
    db: Database, tenant_id: uuid.UUID, import_id: uuid.UUID, size: int
) -> AsyncIterator[bytes]:
    yield "\ufeff".encode() + _csv(["row", "column", "field", "code", "reason"])
    after: tuple[int, uuid.UUID] | None = None
    while True:
        with tenant_context(tenant_id):
            async with db.transaction() as session:
                stmt = select(ImportRowError).where(ImportRowError.import_id == import_id)
                if after is not None:
                    stmt = stmt.where(
                        (ImportRowError.row_number > after[0])
                        | ((ImportRowError.row_number == after[0]) & (ImportRowError.id > after[1]))
                    )
                stmt = stmt.order_by(ImportRowError.row_number, ImportRowError.id).limit(size)
                errors = list(await session.scalars(stmt))
        if not errors:
            return
        for e in errors:
            yield _csv([e.row_number, e.column, e.field, e.code, e.reason])
        after = (errors[-1].row_number, errors[-1].id)


def _csv(values: list[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(["" if v is None else v for v in values])
    return buffer.getvalue().encode()


async def start_run(
    session: AsyncSession, principal: Principal, import_id: uuid.UUID, request: RunRequest
) -> ImportView:
    """Run a validated import for real (or validate it again, with another mapping)."""
    batch = await _in_scope(session, principal, import_id, lock=True)
    validated = batch.status == ImportStatus.VALIDATED or (
        batch.status == ImportStatus.FAILED and batch.dry_run
    )
    if not validated or batch.file_purged:
        raise Conflict(
            f"This import is {batch.status}; only a validated import (a finished dry run) can be run.",
            code="import_not_runnable",
        )
    if request.policy is not None:
        batch.policy = one_of(request.policy, Policy.ALL, "policy")
    if request.mapping:
        definitions = await definitions_for(session, batch.entity)
        batch.mapping = apply_overrides(
            batch.entity, batch.headers, batch.mapping, request.mapping, definitions
        )
    if not request.dry_run:
        _check_required(batch.entity, batch.mapping)
    batch.dry_run = request.dry_run
    batch.status = ImportStatus.QUEUED
    await session.flush()
    await enqueue(session, run, ImportJob(import_id=batch.id))
    return import_view(batch)


async def request_undo(session: AsyncSession, principal: Principal, import_id: uuid.UUID) -> ImportView:
    """Queue the undo of a finished (or failed) real run."""
    batch = await _in_scope(session, principal, import_id, lock=True)
    if batch.dry_run or batch.status not in (ImportStatus.DONE, ImportStatus.FAILED):
        raise Conflict(
            f"This import is {batch.status}; only a finished import that wrote records can be undone.",
            code="import_not_undoable",
        )
    batch.status = ImportStatus.UNDOING
    batch.undone_count = batch.kept_count = 0
    await session.flush()
    await enqueue(session, undo, ImportJob(import_id=batch.id))
    return import_view(batch)
