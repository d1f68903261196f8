"""Running an import and undoing one, batch by batch, each batch one transaction.

A batch reads the next rows from the stored file, validates them, writes them (unless it is
a dry run), and moves the import's counters and cursor (``processed_rows``) in the same
commit. So the progress people see is what is committed, one bad row is one row error, and a
worker that dies midway leaves a cursor its retry continues from: nothing is written twice.
"""

from __future__ import annotations

import itertools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.audit import service as audit
from core.audit.context import ActorType, audit_context
from core.customers.events import ContactUpdated, CustomerDeleted, CustomerUpdated
from core.customers.models import Contact, Customer
from core.customfields.service import definitions_for
from core.events.service import record_event
from core.imports.contacts import import_contacts
from core.imports.customers import import_customers
from core.imports.events import ImportFinished
from core.imports.files import ChunkFile, Row, count_rows, read_rows
from core.imports.leads import import_leads
from core.imports.models import ImportBatch, ImportChunk, ImportRecord, ImportRowError, ImportStatus
from core.imports.permissions import CREATE_PERMISSION, RUN
from core.imports.rows import RunState, Tally
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.errors import DomainError, Invalid
from core.kernel.tenancy import tenant_context
from core.leads.models import Lead
from core.security.service import load_member_principal

__all__ = ["fail_import", "run_import", "undo_import"]

log = logging.getLogger("huike.imports")

Adapter = Callable[[AsyncSession, RunState, list[tuple[int, Row]]], Awaitable[None]]
ADAPTERS: dict[str, Adapter] = {
    "customer": import_customers,
    "contact": import_contacts,
    "lead": import_leads,
}
MODELS: dict[str, type[Customer] | type[Contact] | type[Lead]] = {
    "customers": Customer,
    "contacts": Contact,
    "leads": Lead,
}


@dataclass
class _Reader:
    """The file's rows, numbered as in the sheet (the header is row 1), read across batches."""

    file: ChunkFile | None = None
    rows: Iterator[tuple[int, Row]] | None = None
    #: The rows of the batch in progress (to retry them one by one if the batch is refused).
    last: list[tuple[int, Row]] = field(default_factory=list)
    #: How many data rows lie behind the iterator: the cursor this reader expects to find.
    position: int | None = None

    def overtaken(self, batch: ImportBatch) -> bool:
        """Another worker ran this import meanwhile (a redelivered job): leave it to that one."""
        return self.position is not None and batch.processed_rows != self.position

    def pull(self, session: Session, batch: ImportBatch, size: int) -> list[tuple[int, Row]]:
        if self.file is None or self.rows is None:
            self.file = ChunkFile(session, batch.id, batch.size_bytes)
            numbered = enumerate(read_rows(self.file, batch.file_format, batch.encoding), start=1)
            # Skip the header and what earlier attempts committed.
            self.rows = itertools.islice(numbered, 1 + batch.processed_rows, None)
            self.position = batch.processed_rows
        self.file.session = session
        left = (batch.total_rows or 0) - batch.processed_rows
        self.last = list(itertools.islice(self.rows, max(0, min(size, left))))
        self.position = batch.processed_rows + len(self.last)
        return self.last


async def _locked(session: AsyncSession, import_id: uuid.UUID) -> ImportBatch:
    batch = await session.scalar(select(ImportBatch).where(ImportBatch.id == import_id).with_for_update())
    if batch is None:
        raise Invalid("The import does not exist any more.", code="import_gone")
    return batch


async def _start(session: AsyncSession, import_id: uuid.UUID) -> tuple[ImportBatch, RunState] | None:
    batch = await _locked(session, import_id)
    if batch.status not in (ImportStatus.QUEUED, ImportStatus.VALIDATING, ImportStatus.RUNNING):
        return None  # finished, failed or undone meanwhile: a late or repeated job does nothing
    principal = await load_member_principal(session, batch.created_by)
    for permission in (RUN, CREATE_PERMISSION[batch.entity]):
        if not principal.can(permission):
            raise Invalid(
                f"The person who started this import no longer holds {permission!r}.", code="permission_lost"
            )
    if batch.status == ImportStatus.QUEUED:  # a fresh run: forget an earlier dry run's report
        await session.execute(delete(ImportRowError).where(ImportRowError.import_id == batch.id))
        batch.status = ImportStatus.VALIDATING if batch.dry_run else ImportStatus.RUNNING
        batch.started_at, batch.finished_at = utcnow(), None
        batch.processed_rows = batch.created_count = batch.updated_count = 0
        batch.skipped_count = batch.failed_count = 0
    if batch.total_rows is None:
        total = await session.run_sync(
            lambda s: count_rows(
                read_rows(ChunkFile(s, batch.id, batch.size_bytes), batch.file_format, batch.encoding)
            )
        )
        batch.total_rows = total
    definitions = await definitions_for(session, batch.entity)
    state = await RunState.load(session, batch, principal, definitions)
    if batch.entity == "customer":
        state.contact_definitions = await definitions_for(session, "contact")
    return batch, state


async def _save_report(session: AsyncSession, state: RunState) -> None:
    """The batch's row errors and written records, each in one statement."""
    session.add_all(state.errors)
    if state.records:
        await session.execute(insert(cast(Table, ImportRecord.__table__)), state.records)


def _count(batch: ImportBatch, tally: Tally, rows: int) -> None:
    batch.processed_rows += rows
    batch.created_count += tally.created
    batch.updated_count += tally.updated
    batch.skipped_count += tally.skipped
    batch.failed_count += tally.failed


async def _finish(session: AsyncSession, batch: ImportBatch) -> None:
    batch.status = ImportStatus.VALIDATED if batch.dry_run else ImportStatus.DONE
    batch.finished_at = utcnow()
    if not batch.dry_run:  # the file is not needed any more: do not keep personal data around
        await session.execute(delete(ImportChunk).where(ImportChunk.import_id == batch.id))
        batch.file_purged = True
    await record_event(session, _finished(batch))


def _finished(batch: ImportBatch) -> ImportFinished:
    return ImportFinished(
        import_id=batch.id,
        entity=batch.entity,
        status=batch.status,
        created=batch.created_count,
        updated=batch.updated_count,
        skipped=batch.skipped_count,
        failed=batch.failed_count,
    )


async def _batch(db: Database, import_id: uuid.UUID, state: RunState, reader: _Reader, size: int) -> bool:
    """One batch in one transaction; True when the import is finished."""
    state.tally, state.errors, state.records = Tally(), [], []
    async with db.transaction() as session:
        batch = await _locked(session, import_id)
        if reader.overtaken(batch) or batch.status not in (ImportStatus.VALIDATING, ImportStatus.RUNNING):
            return True
        rows = await session.run_sync(lambda s: reader.pull(s, batch, size))
        if not rows:
            await _finish(session, batch)
            return True
        await ADAPTERS[state.entity](session, state, rows)
        await _save_report(session, state)
        _count(batch, state.tally, len(rows))
    return False


async def _row_by_row(
    db: Database, import_id: uuid.UUID, state: RunState, rows: list[tuple[int, Row]]
) -> None:
    """A batch the database refused as a whole: each row again on its own, so only the rows
    at fault fail."""
    for number, row in rows:
        state.tally, state.errors, state.records = Tally(), [], []
        try:
            async with db.transaction() as session:
                await ADAPTERS[state.entity](session, state, [(number, row)])
                await _save_report(session, state)
                _count(await _locked(session, import_id), state.tally, 1)
        except DBAPIError:
            log.warning("import row refused by the database", exc_info=True, extra={"row": number})
            async with db.transaction() as session:
                batch = await _locked(session, import_id)
                state.tally, state.errors, state.records = Tally(), [], []
                state.fail(number, Invalid("The database refused this row.", code="write_failed"))
                session.add_all(state.errors)
                _count(batch, state.tally, 1)


async def run_import(
    db: Database,
    tenant_id: uuid.UUID,
    import_id: uuid.UUID,
    *,
    batch_size: int,
    max_batches: int | None = None,
) -> bool:
    """Run (or dry-run) the import from its cursor. Returns True when it is finished;
    ``max_batches`` stops earlier (the rest is for a later call, which resumes)."""
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            started = await _start(session, import_id)
            if started is None:
                return True
            batch, state = started
            actor = batch.created_by
        reader = _Reader()
        with audit_context(ActorType.USER, actor, request_id=f"import:{import_id}"):
            for done_batches in itertools.count():
                if max_batches is not None and done_batches >= max_batches:
                    return False
                reader.last = []
                try:
                    finished = await _batch(db, import_id, state, reader, batch_size)
                except DBAPIError:
                    if not reader.last:
                        raise
                    log.warning("import batch refused; retrying row by row", exc_info=True)
                    await _row_by_row(db, import_id, state, reader.last)
                    continue
                if finished:
                    return True
    return True


async def fail_import(
    db: Database, tenant_id: uuid.UUID, import_id: uuid.UUID, error: DomainError | str
) -> None:
    """Mark the import failed (it stays undoable for what it wrote)."""
    message = error if isinstance(error, str) else error.message
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            await session.execute(
                update(ImportBatch)
                .where(ImportBatch.id == import_id)
                .values(
                    status=ImportStatus.FAILED,
                    error=message[:500],
                    finished_at=utcnow(),
                    version=ImportBatch.version + 1,
                )
            )


async def _undo_record(session: AsyncSession, record: ImportRecord) -> bool:
    """Undo one record; False when someone changed (or removed) it since the import."""
    model = MODELS[record.entity_type]
    target: Customer | Contact | Lead | None = await session.scalar(
        select(model).where(model.id == record.entity_id).with_for_update()
    )
    if target is None or target.version != record.version_after:
        return False
    if record.action == "updated":
        before = json.loads(record.before or "{}")
        for key, value in before.items():
            setattr(target, key, value)
        await session.flush()
        if isinstance(target, Customer):
            await record_event(session, CustomerUpdated(customer_id=target.id, fields=sorted(before)))
        elif isinstance(target, Contact):
            changed = ContactUpdated(
                contact_id=target.id, customer_id=target.customer_id, fields=sorted(before)
            )
            await record_event(session, changed)
        return True
    if isinstance(target, Customer):
        others = await session.scalar(
            select(func.count()).select_from(Contact).where(Contact.customer_id == target.id)
        )
        if others:
            return False  # someone added contacts to it since
    await session.delete(target)
    await session.flush()
    if isinstance(target, Customer):
        await record_event(session, CustomerDeleted(customer_id=target.id))
    return True


async def undo_import(db: Database, tenant_id: uuid.UUID, import_id: uuid.UUID, *, batch_size: int) -> None:
    """Delete what the import created and restore what it updated, newest row first, batch by
    batch (resumable: each record is marked as it is undone); records changed by someone since
    are kept and counted."""
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            batch = await _locked(session, import_id)
            if batch.status != ImportStatus.UNDOING:
                return
            actor = batch.created_by
        with audit_context(ActorType.USER, actor, request_id=f"import:{import_id}"):
            while True:
                async with db.transaction() as session:
                    batch = await _locked(session, import_id)
                    records = list(
                        await session.scalars(
                            select(ImportRecord)
                            .where(ImportRecord.import_id == import_id, ImportRecord.undo_result.is_(None))
                            .order_by(
                                ImportRecord.row_number.desc(), ImportRecord.entity_type, ImportRecord.id
                            )
                            .limit(batch_size)
                        )
                    )
                    for record in records:
                        done = await _undo_record(session, record)
                        record.undo_result = "undone" if done else "kept"
                        batch.undone_count += int(done)
                        batch.kept_count += int(not done)
                    if not records:
                        batch.status, batch.finished_at = ImportStatus.UNDONE, utcnow()
                        await audit.record(
                            session,
                            "import.undone",
                            entity_type="imports",
                            entity_id=batch.id,
                            details={"undone": batch.undone_count, "kept": batch.kept_count},
                        )
                        await record_event(session, _finished(batch))
                        return
